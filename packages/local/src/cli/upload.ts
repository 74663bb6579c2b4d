import { readdir, readFile, stat } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { IMAGE_EXTENSIONS, isValidId, objectKey } from "@photo-clusters/core/keys";
import { progressBar } from "./progress.ts";

const CONTENT_TYPES: Record<string, string> = { jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", webp: "image/webp" };

export interface UploadItem {
  path: string;
  key: string;
}

/** The photos under the given files and folders (not recursive into hidden folders), with their keys. */
export async function collectPhotos(userId: string, paths: string[]): Promise<UploadItem[]> {
  if (!isValidId(userId)) throw new Error(`user id "${userId}" must match ^[A-Za-z0-9_-]{1,128}$`);
  const files: string[] = [];
  const walk = async (path: string) => {
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new Error(`${path}: no such file or folder`);
    if (info.isDirectory()) {
      for (const entry of (await readdir(path)).sort()) if (!entry.startsWith(".")) await walk(join(path, entry));
    } else if ((IMAGE_EXTENSIONS as readonly string[]).includes(extname(path).slice(1).toLowerCase())) files.push(path);
  };
  for (const p of paths) await walk(p);
  const seen = new Set<string>();
  const items: UploadItem[] = [];
  for (const path of files) {
    const ext = extname(path).slice(1).toLowerCase();
    const imageId = basename(path, extname(path)).replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 128);
    const key = objectKey(userId, `${imageId}.${ext}`);
    // One image id per photo: a.jpg and a.png would otherwise be two keys for the same id.
    if (!isValidId(imageId) || seen.has(imageId)) {
      process.stderr.write(`skipping ${path}: its name gives the image id "${imageId}", which is invalid or already taken\n`);
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
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: item.key, Body: body, ContentType: CONTENT_TYPES[extname(item.path).slice(1).toLowerCase()] }));
      bar?.update(++done);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  bar?.done(done);
}
