/**
 * `POST /users/{userId}/uploads` through the app: who may ask, what a bad body is told, and what the
 * signed policy pins. That S3's check of the signature accepts it is tested against the local S3
 * (packages/local/test/uploads.test.ts), which verifies it independently.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiApp } from "./app.ts";
import { emptyView, testAuth, testModel, type TestAuth } from "../../test/api-factories.ts";
import { createUploadSigner } from "./uploads.ts";

let auth: TestAuth;
beforeAll(async () => {
  auth = await testAuth();
});
afterAll(() => auth.cleanup());

const MAX = 25 * 2 ** 20;
const signedAt = new Date("2026-12-04T10:00:00.000Z");

function app(withUploads = true) {
  return createApiApp({
    readUser: async (userId) => emptyView(userId),
    verifyToken: auth.verifyToken,
    model: testModel,
    logger: { info() {}, error() {} },
    uploads: withUploads
      ? createUploadSigner({
          bucket: "photos",
          region: "eu-west-1",
          credentials: { accessKeyId: "AKID", secretAccessKey: "secret" },
          maxBytes: MAX,
          now: () => signedAt,
        })
      : undefined,
  });
}

async function ask(body: unknown, options: { user?: string; as?: string; raw?: string; contentType?: string; withUploads?: boolean } = {}) {
  const res = await app(options.withUploads).request(`/users/${options.user ?? "alice"}/uploads`, {
    method: "POST",
    headers: { Authorization: `Bearer ${await auth.issueDevToken(options.as ?? "alice")}`, "Content-Type": options.contentType ?? "application/json" },
    body: options.raw ?? JSON.stringify(body),
  });
  type Answer = {
    key: string;
    imageId: string;
    upload: { method: string; url: string; fields: Record<string, string> };
    error: { code: string; message: string };
  };
  return { status: res.status, body: (await res.json()) as Answer };
}

const policyOf = (fields: Record<string, string>) => JSON.parse(Buffer.from(fields.Policy, "base64").toString("utf8"));

describe("POST /users/{userId}/uploads", () => {
  it("returns the key, the image id and a presigned POST pinned to that key, type and size range", async () => {
    const { status, body } = await ask({ name: "Holiday 2024/IMG_1234 (1).JPG", contentType: "image/jpeg", size: 123456 });
    expect(status).toBe(200);
    expect(body.key).toBe("users/alice/Holiday 2024/IMG_1234 (1).JPG");
    expect(body.imageId).toBe("Holiday 2024/IMG_1234 (1)");
    expect(body.upload.method).toBe("POST");
    expect(body.upload.url).toBe("https://photos.s3.eu-west-1.amazonaws.com/");
    const { fields } = body.upload;
    expect(fields.key).toBe(body.key);
    expect(fields["Content-Type"]).toBe("image/jpeg");
    expect(fields["X-Amz-Credential"]).toBe("AKID/20261204/eu-west-1/s3/aws4_request");
    expect(fields["X-Amz-Signature"]).toMatch(/^[0-9a-f]{64}$/);
    const policy = policyOf(fields);
    expect(policy.expiration).toBe("2026-12-04T10:05:00.000Z");
    expect(policy.conditions).toContainEqual({ bucket: "photos" });
    expect(policy.conditions).toContainEqual({ key: body.key });
    expect(policy.conditions).toContainEqual({ "Content-Type": "image/jpeg" });
    expect(policy.conditions).toContainEqual(["content-length-range", 1, MAX]);
  });

  it.each([
    ["IMG_0001.HEIC", "image/heic"],
    ["scan.heif", "image/heif"],
    ["PXL_2024.avif", "image/avif"],
  ])("signs an iPhone's or Android phone's %s as %s", async (name, contentType) => {
    const { status, body } = await ask({ name, contentType, size: 10 });
    expect(status).toBe(200);
    expect(body.upload.fields["Content-Type"]).toBe(contentType);
  });

  it("signs only for the token's own user", async () => {
    const { status, body } = await ask({ name: "a.jpg", contentType: "image/jpeg", size: 10 }, { user: "bob", as: "alice" });
    expect(status).toBe(403);
    expect(body.error.code).toBe("forbidden");
  });

  it.each([
    [{ contentType: "image/jpeg", size: 10 }, /^name must be/],
    [{ name: "notes.txt", contentType: "image/jpeg", size: 10 }, /^name is not a photo name: .*extension must be one of/],
    [{ name: "../bob/a.jpg", contentType: "image/jpeg", size: 10 }, /^name is not a photo name: .*"\.\." segment/],
    [{ name: "2024//a.jpg", contentType: "image/jpeg", size: 10 }, /^name is not a photo name: .*empty segment/],
    [{ name: "a.jpg", contentType: "text/html", size: 10 }, /^contentType must be one of image\/jpeg, image\/png, image\/webp/],
    [{ name: "a.jpg", contentType: "image/svg+xml", size: 10 }, /^contentType must be one of/],
    [{ name: "a.jpg", size: 10 }, /^contentType must be one of/],
    [{ name: "a.png", contentType: "image/jpeg", size: 10 }, /^contentType must be image\/png for a name ending \.png/],
    [{ name: "IMG_0001.HEIC", contentType: "image/jpeg", size: 10 }, /^contentType must be image\/heic for a name ending \.HEIC/],
    [{ name: `\${filename}.jpg`, contentType: "image/jpeg", size: 10 }, /^name must not contain "\$\{"/],
    [{ name: "a.jpg", contentType: "image/jpeg", size: MAX + 1 }, new RegExp(`^size must be at most ${MAX} bytes`)],
    [{ name: "a.jpg", contentType: "image/jpeg", size: 0 }, /^size must be the photo's size in bytes/],
    [{ name: "a.jpg", contentType: "image/jpeg", size: "10" }, /^size must be the photo's size in bytes/],
    [["a.jpg"], /^body must be a JSON object/],
  ])("refuses %j with a 400 naming the field", async (request, message) => {
    const { status, body } = await ask(request);
    expect(status).toBe(400);
    expect(body.error.code).toBe("invalid_parameter");
    expect(body.error.message).toMatch(message);
  });

  it("refuses a body that is not JSON", async () => {
    expect((await ask(undefined, { raw: "name=a.jpg" })).body.error.message).toBe("the body is not valid JSON");
    expect((await ask(undefined, { raw: "{}", contentType: "text/plain" })).body.error.message).toMatch(/must be JSON/);
  });

  it("takes image/jpg, which some clients send, as image/jpeg, and signs that", async () => {
    const { status, body } = await ask({ name: "a.JPG", contentType: "image/jpg", size: 10 });
    expect(status).toBe(200);
    expect(body.upload.fields["Content-Type"]).toBe("image/jpeg");
  });

  it("refuses a body over 8 KB counted in bytes, not characters", async () => {
    // 3,000 characters of 3 bytes each: 9,000 bytes.
    const raw = JSON.stringify({ name: `${"€".repeat(3000)}.jpg`, contentType: "image/jpeg", size: 10 });
    const { status, body } = await ask(undefined, { raw });
    expect(status).toBe(400);
    expect(body.error.message).toBe("the body must be at most 8192 bytes");
  });

  it("answers 404 where no signer is configured", async () => {
    expect((await ask({ name: "a.jpg", contentType: "image/jpeg", size: 10 }, { withUploads: false })).status).toBe(404);
  });
});
