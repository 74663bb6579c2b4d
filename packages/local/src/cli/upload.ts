import { readdir, readFile, stat } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { IMAGE_EXTENSIONS, isValidId, objectKey, parseObjectKey } from "@photo-clusters/core/keys";
import { progressBar } from "./progress.ts";

const CONTENT_TYPES: Record<string, string> = { jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", webp: "image/webp" };

/** A photo file's Content-Type, by its extension. */
export function contentTypeOf(path: string): string {
  return CONTENT_TYPES[extname(path).slice(1).toLowerCase()] ?? "application/octet-stream";
}

export interface UploadItem {
  path: string;
  key: string;
}

/**
 * The photos under the given files and folders (hidden ones skipped), with their keys: a file's key
 * is `users/<userId>/` and its name, a folder's photos keep their path below the folder
 * (`photos/2024/05/IMG 0001.JPG` → `users/<userId>/2024/05/IMG 0001.JPG`), exactly as named.
 */
export async function collectPhotos(userId: string, paths: string[]): Promise<UploadItem[]> {
  if (!isValidId(userId)) throw new Error(`user id "${userId}" must match ^[A-Za-z0-9_-]{1,128}$`);
  const found: Array<{ path: string; name: string }> = [];
  const walk = async (path: string, name: string) => {
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new Error(`${path}: no such file or folder`);
    if (info.isDirectory()) {
      for (const entry of (await readdir(path)).sort()) if (!entry.startsWith(".")) await walk(join(path, entry), name ? `${name}/${entry}` : entry);
    } else if ((IMAGE_EXTENSIONS as readonly string[]).includes(extname(path).slice(1).toLowerCase())) found.push({ path, name: name || basename(path) });
  };
  for (const p of paths) await walk(p, "");
  const seen = new Set<string>();
  const items: UploadItem[] = [];
  for (const { path, name } of found) {
    const key = objectKey(userId, name);
    let imageId: string;
    try {
      imageId = parseObjectKey(key).imageId;
    } catch (error) {
      process.stderr.write(`skipping ${path}: ${(error as Error).message}\n`);
      continue;
    }
    // One photo per image id: a.jpg and a.png would otherwise be two keys for the same id.
    if (seen.has(imageId)) {
      process.stderr.write(`skipping ${path}: another photo already has the image id "${imageId}"\n`);
      continue;
    }
    seen.add(imageId);
    items.push({ path, key });
  }
  return items;
}

export async function uploadPhotos(s3: S3Client, bucket: string, items: UploadItem[], options: { concurrency?: number; quiet?: boolean } = {}): Promise<void> {
  const bar = options.quiet ? undefined : progressBar(items.length, "upload");
  let done = 0;
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      const body = await readFile(item.path);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: item.key, Body: body, ContentType: contentTypeOf(item.path) }));
      bar?.update(++done);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  bar?.done(done);
}
