/**
 * The signed DELETE, checked against Signature Version 4 computed here step by step from AWS's
 * specification (the local S3 does not check a DELETE's signature), for a key with a sub-folder,
 * spaces and characters S3 wants percent-encoded.
 */
import { createHash, createHmac } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createPhotoDeleter } from "./photo-deleter.ts";

const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data).digest();

/** AWS SigV4 for S3, by the specification: the path as sent, each signed header's value, the payload hash given. */
function expectedSignature(request: IncomingMessage, secret: string, region: string): string {
  const date = String(request.headers["x-amz-date"]);
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(String(request.headers.authorization))![1]!;
  const canonicalHeaders = signedHeaders
    .split(";")
    .map((h) => `${h}:${String(request.headers[h]).trim()}\n`)
    .join("");
  const canonical = ["DELETE", request.url, "", canonicalHeaders, signedHeaders, String(request.headers["x-amz-content-sha256"])].join("\n");
  const scope = `${date.slice(0, 8)}/${region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", date, scope, createHash("sha256").update(canonical).digest("hex")].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date.slice(0, 8)), region), "s3"), "aws4_request");
  return hmac(key, toSign).toString("hex");
}

let close: (() => void) | undefined;
afterEach(() => close?.());

async function s3Like(status: number): Promise<{ endpoint: string; seen: IncomingMessage[] }> {
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    res.statusCode = status;
    res.end(status === 204 ? undefined : "<Error><Code>AccessDenied</Code></Error>");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  close = () => server.close();
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe("createPhotoDeleter", () => {
  it("sends one DELETE of the key, path-encoded once, signed as Signature Version 4 says", async () => {
    const { endpoint, seen } = await s3Like(204);
    const deleter = createPhotoDeleter({ bucket: "photos", region: "eu-west-1", credentials: { accessKeyId: "AKID", secretAccessKey: "secret" }, endpoint });
    await deleter.delete("users/alice/2024/05/IMG 0001 (1)!é.JPG");
    expect(seen).toHaveLength(1);
    const [request] = seen;
    expect(request.method).toBe("DELETE");
    expect(request.url).toBe("/photos/users/alice/2024/05/IMG%200001%20%281%29%21%C3%A9.JPG");
    expect(String(request.headers.authorization)).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/eu-west-1\/s3\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/,
    );
    expect(String(request.headers.authorization).split("Signature=")[1]).toBe(expectedSignature(request, "secret", "eu-west-1"));
  });

  it("fails with S3's status when S3 refuses", async () => {
    const { endpoint } = await s3Like(403);
    const deleter = createPhotoDeleter({ bucket: "photos", region: "eu-west-1", credentials: { accessKeyId: "AKID", secretAccessKey: "secret" }, endpoint });
    await expect(deleter.delete("users/alice/a.jpg")).rejects.toThrow(/HTTP 403 .*AccessDenied/);
  });
});
