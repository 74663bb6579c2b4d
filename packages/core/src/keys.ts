import { InvalidKeyError } from "./errors.ts";

/** User ids name a directory: safe as one path segment on any filesystem, never `.` or `..`. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
/** Photo extensions, in any letter case: heic is the iPhone camera's default; heif and avif come from Android phones and scanners. */
export const IMAGE_EXTENSIONS = ["jpg", "jpeg", "png", "webp", "heic", "heif", "avif"] as const;
/** The one Content-Type each photo extension is stored and served with. */
export const CONTENT_TYPES: Readonly<Record<(typeof IMAGE_EXTENSIONS)[number], string>> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  heic: "image/heic",
  heif: "image/heif",
  avif: "image/avif",
};

/** A photo file's Content-Type by its extension; application/octet-stream for anything else. */
export function contentTypeOf(name: string): string {
  const ext = name.slice(name.lastIndexOf(".") + 1).toLowerCase();
  return name.includes(".") && Object.hasOwn(CONTENT_TYPES, ext) ? CONTENT_TYPES[ext as keyof typeof CONTENT_TYPES] : "application/octet-stream";
}
/** An image id is at most this many UTF-8 bytes (S3 keys are at most 1,024). */
export const MAX_IMAGE_ID_BYTES = 1024;

export interface ObjectKey {
  key: string;
  userId: string;
  /** The key's path below `users/<userId>/` without its last extension; never a path on disk. */
  imageId: string;
  /** Lower case. */
  ext: string;
}

/** Whether `id` can be a user id. */
export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/** What is wrong with an image id, or null: empty, over 1,024 bytes, or an empty, `.` or `..` segment. */
export function imageIdProblem(id: string): string | null {
  if (typeof id !== "string" || id.length === 0) return "is empty";
  if (Buffer.byteLength(id, "utf8") > MAX_IMAGE_ID_BYTES) return `is over ${MAX_IMAGE_ID_BYTES} bytes`;
  for (const segment of id.split("/")) {
    if (segment === "") return "has an empty segment";
    if (segment === "." || segment === "..") return `has a "${segment}" segment`;
  }
  return null;
}

export const isValidImageId = (id: string): boolean => imageIdProblem(id) === null;

/**
 * Parses `users/<userId>/<path>.<ext>` (already URL-decoded): any photo name a phone, a cloud export
 * or an existing bucket writes, spaces, Unicode and sub-folders included. Throws InvalidKeyError
 * with the reason for a key that cannot be a photo.
 */
export function parseObjectKey(key: string): ObjectKey {
  const slash = key.indexOf("/", 6);
  if (!key.startsWith("users/") || slash < 0) {
    throw new InvalidKeyError(`key ${JSON.stringify(key)} is not of the form users/<userId>/<name>.<ext>`);
  }
  const userId = key.slice(6, slash);
  if (!isValidId(userId)) {
    throw new InvalidKeyError(`key ${JSON.stringify(key)}: user id must match ${ID_PATTERN}`);
  }
  const path = key.slice(slash + 1);
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
  if (!(IMAGE_EXTENSIONS as readonly string[]).includes(ext)) {
    throw new InvalidKeyError(`key ${JSON.stringify(key)}: extension must be one of ${IMAGE_EXTENSIONS.join(", ")}`);
  }
  const imageId = path.slice(0, path.length - ext.length - 1);
  const problem = imageIdProblem(imageId);
  if (problem) throw new InvalidKeyError(`key ${JSON.stringify(key)}: image id ${problem}`);
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
