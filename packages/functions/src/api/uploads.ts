/**
 * `POST /users/{userId}/uploads`: an S3 presigned POST for one photo. Its policy pins the exact key,
 * the content type and a size range up to what the poller takes, and expires in minutes, so the
 * holder can store that one photo under its own prefix and nothing else.
 */
import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";
import { CONTENT_TYPES, contentTypeOf, InvalidParameterError, type ObjectKey, objectKey, parseObjectKey } from "@photo-clusters/core";

export interface UploadRequest {
  key: string;
  imageId: string;
  contentType: string;
  size: number;
}

export interface PresignedPost {
  method: "POST";
  url: string;
  fields: Record<string, string>;
}

export interface UploadSigner {
  /** The largest photo the pipeline takes, in bytes: the upper end of the signed size range. */
  maxBytes: number;
  sign(request: UploadRequest): Promise<PresignedPost>;
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignerOptions {
  bucket: string;
  region: string;
  credentials: Credentials | (() => Promise<Credentials>);
  maxBytes: number;
  /** Where the form is posted; S3's regional virtual-hosted endpoint when absent, the emulator's locally. */
  endpoint?: string;
  /** How long the form may be used (default 300 s). */
  expiresSeconds?: number;
  now?: () => Date;
}

const MAX_NAME_BYTES = 1024;

/** The JSON body `{name, contentType, size}`, checked field by field; errors name the field. */
export function parseUploadRequest(userId: string, body: unknown, maxBytes: number): UploadRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new InvalidParameterError('body must be a JSON object {"name", "contentType", "size"}');
  }
  const { name, contentType, size } = body as Record<string, unknown>;
  if (typeof name !== "string" || name === "")
    throw new InvalidParameterError('name must be the photo\'s file name, e.g. "IMG 0001.jpg" or "2024/05/IMG 0001.jpg"');
  if (Buffer.byteLength(name, "utf8") > MAX_NAME_BYTES) throw new InvalidParameterError(`name must be at most ${MAX_NAME_BYTES} bytes`);
  // S3 replaces ${filename} in a POST's key with the uploaded file's name: a signed key must be literal.
  if (name.includes("${")) throw new InvalidParameterError('name must not contain "${" (S3 would substitute it in the key)');
  let photo: ObjectKey;
  try {
    photo = parseObjectKey(objectKey(userId, name));
  } catch (error) {
    throw new InvalidParameterError(`name is not a photo name: ${(error as Error).message}`);
  }
  // Stored objects are served with their Content-Type, so only the photo types are signed (never
  // image/svg+xml or text/html, which a browser would run), and only the one the name's extension has.
  // image/jpg, which some clients send, is taken as image/jpeg (the type signed and stored).
  const given = typeof contentType === "string" ? contentType.toLowerCase().replace(/^image\/jpg$/, "image/jpeg") : undefined;
  if (given === undefined || !Object.values(CONTENT_TYPES).includes(given)) {
    throw new InvalidParameterError(`contentType must be one of ${[...new Set(Object.values(CONTENT_TYPES))].join(", ")}`);
  }
  const expected = contentTypeOf(photo.key);
  if (given !== expected) {
    throw new InvalidParameterError(`contentType must be ${expected} for a name ending ${photo.key.slice(photo.key.lastIndexOf("."))}`);
  }
  if (typeof size !== "number" || !Number.isInteger(size) || size < 1)
    throw new InvalidParameterError("size must be the photo's size in bytes, a positive integer");
  if (size > maxBytes) throw new InvalidParameterError(`size must be at most ${maxBytes} bytes (the largest photo the pipeline takes)`);
  return { key: photo.key, imageId: photo.imageId, contentType: given, size };
}

const amzDate = (date: Date) =>
  date
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");

/**
 * Signature Version 4 for S3 with the given credentials (read again at each signing: they rotate),
 * and the bucket's URL: S3's regional virtual-hosted endpoint, or `endpoint`'s path-style (the emulator).
 * The upload form and the photo deleter (photo-deleter.ts) sign with it.
 */
export function s3Signing(options: Pick<SignerOptions, "bucket" | "region" | "credentials" | "endpoint">, signerOptions: { uriEscapePath?: boolean } = {}) {
  const { bucket, region } = options;
  const credentials = typeof options.credentials === "function" ? options.credentials : async () => options.credentials as Credentials;
  const signer = new SignatureV4({ credentials, region, service: "s3", sha256: Hash.bind(null, "sha256"), ...signerOptions });
  const url = options.endpoint ? `${options.endpoint.replace(/\/+$/, "")}/${bucket}` : `https://${bucket}.s3.${region}.amazonaws.com/`;
  return { credentials, signer, url };
}

/** Signs POST policies with AWS Signature Version 4, as S3 checks them. */
export function createUploadSigner(options: SignerOptions): UploadSigner {
  const { bucket, region, maxBytes, expiresSeconds = 300, now = () => new Date() } = options;
  const { credentials, signer, url } = s3Signing(options);
  return {
    maxBytes,
    async sign({ key, contentType }) {
      const signedAt = now();
      const creds = await credentials();
      const date = amzDate(signedAt);
      const fields: Record<string, string> = {
        key,
        "Content-Type": contentType,
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": `${creds.accessKeyId}/${date.slice(0, 8)}/${region}/s3/aws4_request`,
        "X-Amz-Date": date,
        ...(creds.sessionToken ? { "X-Amz-Security-Token": creds.sessionToken } : {}),
      };
      const policy = {
        expiration: new Date(signedAt.getTime() + expiresSeconds * 1000).toISOString(),
        conditions: [{ bucket }, ...Object.entries(fields).map(([name, value]) => ({ [name]: value })), ["content-length-range", 1, maxBytes]],
      };
      fields.Policy = Buffer.from(JSON.stringify(policy)).toString("base64");
      fields["X-Amz-Signature"] = await signer.sign(fields.Policy, { signingDate: signedAt });
      return { method: "POST", url, fields };
    },
  };
}
