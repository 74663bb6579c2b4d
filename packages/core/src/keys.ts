import { InvalidKeyError } from "./errors.ts";

/** User and image ids: safe as one path segment on any filesystem, never `.` or `..`. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
export const IMAGE_EXTENSIONS = ["jpg", "jpeg", "png", "webp"] as const;

export interface ObjectKey {
  key: string;
  userId: string;
  imageId: string;
  ext: string;
}

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/** Parses `users/<userId>/<imageId>.<ext>` (already URL-decoded); throws InvalidKeyError with the reason. */
export function parseObjectKey(key: string): ObjectKey {
  const parts = key.split("/");
  if (parts.length !== 3 || parts[0] !== "users") {
    throw new InvalidKeyError(`key ${JSON.stringify(key)} is not of the form users/<userId>/<imageId>.<ext>`);
  }
  const [, userId, file] = parts;
  if (!isValidId(userId)) {
    throw new InvalidKeyError(`key ${JSON.stringify(key)}: user id must match ${ID_PATTERN}`);
  }
  const dot = file.lastIndexOf(".");
  const imageId = dot > 0 ? file.slice(0, dot) : file;
  const ext = dot > 0 ? file.slice(dot + 1).toLowerCase() : "";
  if (!isValidId(imageId)) {
    throw new InvalidKeyError(`key ${JSON.stringify(key)}: image id must match ${ID_PATTERN}`);
  }
  if (!(IMAGE_EXTENSIONS as readonly string[]).includes(ext)) {
    throw new InvalidKeyError(`key ${JSON.stringify(key)}: extension must be one of ${IMAGE_EXTENSIONS.join(", ")}`);
  }
  return { key, userId, imageId, ext };
}

export function objectKey(userId: string, fileName: string): string {
  return `users/${userId}/${fileName}`;
}

/** S3 notifications URL-encode keys, with `+` for a space. */
export function decodeS3Key(encoded: string): string {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, " "));
  } catch {
    throw new InvalidKeyError(`key ${JSON.stringify(encoded)} is not valid URL encoding`);
  }
}

/** The inverse of decodeS3Key, as S3 encodes keys in notifications. */
export function encodeS3Key(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, "+").replace(/%2F/g, "/");
}

/**
 * Image ids in UTF-8 byte order, which is code point order: the order the API lists them in, the
 * same whether ids are compared as strings here or as stored bytes (the store's views).
 */
export function compareIds(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++; // both hold the same surrogate pair
  }
  return a.length - b.length;
}
