/**
 * `DELETE /users/{userId}/images/{imageId}`: the photo's S3 object deleted with the API function's
 * own authority (s3:DeleteObject under users/ only). The pipeline then removes it from the store as
 * for any delete (the bucket's ObjectRemoved notification). One signed request (Signature Version 4,
 * as the upload form is signed), so the API bundle carries no S3 client.
 */
import { s3Signing, type SignerOptions } from "./uploads.ts";

export interface PhotoDeleter {
  /** Deletes the object at `key`; S3 answers the same for a key already gone. */
  delete(key: string): Promise<void>;
}

/** The bucket, its region, the credentials and (locally) the endpoint, as for the upload form. */
export type DeleterOptions = Pick<SignerOptions, "bucket" | "region" | "credentials" | "endpoint">;

/** A key as S3 expects it in a path: each segment percent-encoded, the slashes kept. */
const encodeKey = (key: string) =>
  key
    .split("/")
    .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join("/");

export function createPhotoDeleter(options: DeleterOptions): PhotoDeleter {
  // S3 signs the path as sent (encoded once), not encoded again.
  const { signer, url: bucketUrl } = s3Signing(options, { uriEscapePath: false });
  const base = new URL(bucketUrl.endsWith("/") ? bucketUrl : `${bucketUrl}/`);
  return {
    async delete(key) {
      const url = new URL(encodeKey(key), base);
      const signed = await signer.sign({
        method: "DELETE",
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port ? Number(url.port) : undefined,
        path: url.pathname,
        query: {},
        headers: { host: url.host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" },
      });
      const response = await fetch(url, { method: "DELETE", headers: signed.headers });
      if (response.status !== 204 && response.status !== 200) {
        const body = (await response.text()).slice(0, 300);
        throw new Error(`S3 DeleteObject ${key}: HTTP ${response.status} ${body}`);
      }
    },
  };
}
