import { readdir, readFile, stat } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { contentTypeOf, IMAGE_EXTENSIONS, isValidId, objectKey, parseObjectKey } from "@photo-clusters/core";
import { progressBar } from "./progress.ts";

export interface UploadItem {
  path: string;
  key: string;
}

/** Told of every file or folder the upload leaves out, and why. */
export type OnSkip = (path: string, reason: string) => void;

export const toStderr: OnSkip = (path, reason) => process.stderr.write(`skipping ${path}: ${reason}\n`);

/**
 * The photos under the given files and folders, with their keys: a file's key is `users/<userId>/`
 * and its name, a folder's photos keep their path below the folder (`photos/2024/05/IMG 0001.JPG` →
 * `users/<userId>/2024/05/IMG 0001.JPG`), exactly as named. Everything left out (hidden files and
 * folders, files that are not photos, names that cannot be keys, a second photo for one image id)
 * is reported to `onSkip` with the reason, by default on stderr.
 */
export async function collectPhotos(userId: string, paths: string[], onSkip: OnSkip = toStderr): Promise<UploadItem[]> {
  if (!isValidId(userId)) throw new Error(`user id "${userId}" must match ^[A-Za-z0-9_-]{1,128}$`);
  const found: Array<{ path: string; name: string }> = [];
  const walk = async (path: string, name: string) => {
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new Error(`${path}: no such file or folder`);
    if (info.isDirectory()) {
      for (const entry of (await readdir(path)).sort()) {
        if (entry.startsWith(".")) onSkip(join(path, entry), "hidden (its name starts with a dot)");
        else await walk(join(path, entry), name ? `${name}/${entry}` : entry);
      }
    } else if ((IMAGE_EXTENSIONS as readonly string[]).includes(extname(path).slice(1).toLowerCase())) found.push({ path, name: name || basename(path) });
    else onSkip(path, `not a photo: the name must end in ${IMAGE_EXTENSIONS.map((e) => `.${e}`).join(", ")} (any letter case)`);
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
      onSkip(path, (error as Error).message);
      continue;
    }
    // One photo per image id: a.jpg and a.png would otherwise be two keys for the same id.
    if (seen.has(imageId)) {
      onSkip(path, `another photo already has the image id "${imageId}"`);
      continue;
    }
    seen.add(imageId);
    items.push({ path, key });
  }
  return items;
}

/** Stores one photo's bytes under its key. */
export type PutPhoto = (item: UploadItem, body: Buffer) => Promise<void>;

/** A PutObject straight to the bucket, with the caller's own S3 credentials. */
export function putToBucket(s3: S3Client, bucket: string): PutPhoto {
  return async (item, body) => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: item.key, Body: body, ContentType: contentTypeOf(item.path) }));
  };
}

/**
 * As the app uploads: the API signs a presigned POST for the photo's name (`POST /users/{userId}/uploads`),
 * then the form goes straight to S3 (the local S3 under `pnpm start`). `token` is the user's bearer token.
 */
export function putViaApi(apiUrl: string, token: string): PutPhoto {
  return async (item, body) => {
    const { userId } = parseObjectKey(item.key);
    const contentType = contentTypeOf(item.path);
    const name = item.key.slice(`users/${userId}/`.length);
    const signed = await fetch(new URL(`/users/${encodeURIComponent(userId)}/uploads`, apiUrl), {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ name, contentType, size: body.length }),
    });
    const answer = (await signed.json().catch(() => ({}))) as { upload?: { url: string; fields: Record<string, string> }; error?: { message: string } };
    if (!signed.ok || !answer.upload) throw new Error(`${item.path}: the API answered ${signed.status}: ${answer.error?.message ?? signed.statusText}`);
    const form = new FormData();
    for (const [field, value] of Object.entries(answer.upload.fields)) form.append(field, value);
    form.append("file", new Blob([body], { type: contentType }), basename(item.path));
    const stored = await fetch(answer.upload.url, { method: "POST", body: form });
    if (!stored.ok) {
      const text = await stored.text();
      const reason = /<Message>([\s\S]*?)<\/Message>/.exec(text)?.[1] ?? stored.statusText;
      throw new Error(`${item.path}: S3 answered ${stored.status}: ${reason}`);
    }
  };
}

export async function uploadPhotos(put: PutPhoto, items: UploadItem[], options: { concurrency?: number; quiet?: boolean } = {}): Promise<void> {
  const bar = options.quiet ? undefined : progressBar(items.length, "upload");
  let done = 0;
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      await put(item, await readFile(item.path));
      bar?.update(++done);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  bar?.done(done);
}
