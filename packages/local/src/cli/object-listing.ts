import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, basename } from "node:path";
import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { decodeS3Key } from "@photo-clusters/core";

/** One object of a bucket, as a listing or an S3 Inventory report gives it. */
export interface ListedObject {
  key: string;
  etag: string;
  size: number;
}

/** ListObjectsV2, page by page, in key order, after `startAfter` (the checkpoint). */
export async function* listBucket(s3: S3Client, bucket: string, prefix: string, startAfter?: string): AsyncGenerator<ListedObject> {
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, StartAfter: token ? undefined : startAfter, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) yield { key: o.Key!, etag: (o.ETag ?? "").replace(/"/g, ""), size: o.Size ?? 0 };
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

const DEFAULT_SCHEMA = "Bucket, Key, Size, LastModifiedDate, ETag";

/**
 * An S3 Inventory report: a manifest.json (its fileSchema and data files, looked up beside it by
 * name) or one CSV / CSV.gz data file in the default schema. Keys in inventory CSVs are URL-encoded.
 */
export async function* readInventory(path: string, prefix: string): AsyncGenerator<ListedObject> {
  let files = [path];
  let schema = DEFAULT_SCHEMA;
  if (path.endsWith(".json")) {
    const manifest = JSON.parse(await readFile(path, "utf8")) as { fileFormat?: string; fileSchema?: string; files?: Array<{ key: string }> };
    if (manifest.fileFormat && manifest.fileFormat !== "CSV") throw new Error(`${path}: only CSV inventories are supported, not ${manifest.fileFormat}`);
    schema = manifest.fileSchema ?? schema;
    files = (manifest.files ?? []).map((f) => join(dirname(path), basename(f.key)));
  }
  const columns = schema.split(",").map((c) => c.trim());
  const at = (name: string) => {
    const i = columns.indexOf(name);
    if (i < 0) throw new Error(`inventory schema "${schema}" has no ${name} column`);
    return i;
  };
  const [keyAt, sizeAt, etagAt] = [at("Key"), at("Size"), at("ETag")];
  for (const file of files) {
    const input = createReadStream(file);
    const lines = createInterface({ input: file.endsWith(".gz") ? input.pipe(createGunzip()) : input, crlfDelay: Infinity });
    for await (const line of lines) {
      if (!line.trim()) continue;
      const cells = parseCsvLine(line);
      const key = decodeS3Key(cells[keyAt]);
      if (key.startsWith(prefix)) yield { key, etag: cells[etagAt], size: Number(cells[sizeAt]) };
    }
  }
}

/** Inventory CSV: every field quoted, quotes doubled inside. */
function parseCsvLine(line: string): string[] {
  const cells: string[] = [];
  const re = /"((?:[^"]|"")*)"|([^,]*)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) {
    cells.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]);
    if (re.lastIndex >= line.length) break;
    re.lastIndex++; // skip the comma
  }
  return cells;
}
