/**
 * The local S3's check of a presigned POST, fed forms signed by the API's signer: two independent
 * implementations of Signature Version 4 must agree, and every way of stretching a form is refused.
 */
import { createUploadSigner, type PresignedPost } from "@photo-clusters/functions";
import { describe, expect, it } from "vitest";
import { checkPostObject } from "./post-object.ts";

const signedAt = new Date("2026-12-04T10:00:00.000Z");
const signer = createUploadSigner({
  bucket: "photos",
  region: "us-east-1",
  credentials: { accessKeyId: "local", secretAccessKey: "local" },
  maxBytes: 1000,
  now: () => signedAt,
});
const secrets: Record<string, string> = { local: "local" };
const photo = new Uint8Array(100).fill(7);

async function check(
  signed: PresignedPost,
  options: { change?: Record<string, string>; add?: [string, string | Blob]; file?: Uint8Array; at?: Date; bucket?: string; region?: string } = {},
) {
  const form = new FormData();
  for (const [name, value] of Object.entries({ ...signed.fields, ...options.change })) form.append(name, value);
  if (options.add) form.append(options.add[0], options.add[1]);
  form.append("file", new Blob([options.file ?? photo]), "a.jpg");
  const request = new Request("http://local/", { method: "POST", body: form });
  const body = Buffer.from(await request.arrayBuffer());
  return checkPostObject(
    {
      bucket: options.bucket ?? "photos",
      region: options.region ?? "us-east-1",
      contentType: request.headers.get("content-type")!,
      body,
      now: options.at ?? new Date(signedAt.getTime() + 60_000),
    },
    (id) => secrets[id],
  );
}
const sign = () => signer.sign({ key: "users/alice/a.jpg", imageId: "a", contentType: "image/jpeg", size: 100 });

describe("checkPostObject", () => {
  it("accepts the form as signed, with its key, type and bytes", async () => {
    const result = await check(await sign());
    expect(result).toMatchObject({ ok: true, key: "users/alice/a.jpg", contentType: "image/jpeg" });
    expect(result.ok && [...result.file]).toEqual([...photo]);
  });

  it("refuses a policy changed after signing (a wider size range)", async () => {
    const signed = await sign();
    const policy = JSON.parse(Buffer.from(signed.fields.Policy, "base64").toString());
    policy.conditions = policy.conditions.map((c: unknown) => (Array.isArray(c) && c[0] === "content-length-range" ? ["content-length-range", 1, 10 ** 9] : c));
    const result = await check(signed, { change: { Policy: Buffer.from(JSON.stringify(policy)).toString("base64") } });
    expect(result).toMatchObject({ ok: false, status: 403, message: expect.stringMatching(/signature we calculated does not match/) });
  });

  it("refuses an unknown access key, an expired policy, another bucket, an extra field and a file out of range", async () => {
    const signed = await sign();
    expect(await check(signed, { change: { "X-Amz-Credential": signed.fields["X-Amz-Credential"].replace(/^local/, "other") } })).toMatchObject({
      ok: false,
      status: 403,
    });
    expect(await check(signed, { at: new Date(signedAt.getTime() + 301_000) })).toMatchObject({
      ok: false,
      status: 403,
      message: "Invalid according to Policy: Policy expired.",
    });
    expect(await check(signed, { bucket: "elsewhere" })).toMatchObject({ ok: false, status: 403, message: expect.stringContaining('{"bucket":"photos"}') });
    expect(await check(signed, { change: { "x-amz-meta-owner": "bob" } })).toMatchObject({
      ok: false,
      status: 403,
      message: "Invalid according to Policy: Extra input fields: x-amz-meta-owner",
    });
    expect(await check(signed, { file: new Uint8Array(1001) })).toMatchObject({ ok: false, status: 400, code: "EntityTooLarge" });
    expect(await check(signed, { file: new Uint8Array(0) })).toMatchObject({ ok: false, status: 400, code: "EntityTooLarge" });
  });

  it("refuses a credential scoped to another region, an X-Amz-Date of another day, a field given twice and a second file", async () => {
    const signed = await sign();
    expect(await check(signed, { region: "eu-west-1" })).toMatchObject({
      ok: false,
      status: 400,
      message: expect.stringMatching(/scoped to region us-east-1/),
    });
    expect(await check(signed, { change: { "X-Amz-Date": "20261205T100000Z" } })).toMatchObject({
      ok: false,
      status: 400,
      message: expect.stringMatching(/x-amz-date must be a time on/),
    });
    expect(await check(signed, { add: ["key", "users/bob/a.jpg"] })).toMatchObject({
      ok: false,
      status: 400,
      message: "the form has the field key more than once",
    });
    expect(await check(signed, { add: ["file", new Blob([photo])] })).toMatchObject({
      ok: false,
      status: 400,
      message: expect.stringMatching(/exactly one file/),
    });
  });
});
