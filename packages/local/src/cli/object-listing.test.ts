import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { readInventory } from "./object-listing.ts";

describe("reading an S3 Inventory report", () => {
  let dir: string;
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const collect = async (path: string, prefix = "users/") => {
    const out = [];
    for await (const o of readInventory(path, prefix)) out.push(o);
    return out;
  };

  it("follows a manifest to its gzipped CSV files, in the manifest's schema, with keys URL-decoded", async () => {
    // Prepare
    dir = await mkdtemp(join(tmpdir(), "inventory-"));
    const csv = [
      '"photos","users/alice/beach+day.jpg","120","2026-11-01T00:00:00.000Z","abc","STANDARD"',
      '"photos","other/x.jpg","5","2026-11-01T00:00:00.000Z","def","STANDARD"',
      '"photos","users/bob/a%2Cb.png","7","2026-11-01T00:00:00.000Z","0a1","STANDARD"',
    ].join("\n");
    await writeFile(join(dir, "data-1.csv.gz"), gzipSync(csv));
    await writeFile(
      join(dir, "manifest.json"),
      JSON.stringify({
        fileFormat: "CSV",
        fileSchema: "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass",
        files: [{ key: "inventory/photos/all/data/data-1.csv.gz" }],
      }),
    );
    // Act
    const objects = await collect(join(dir, "manifest.json"));
    // Assess
    expect(objects).toEqual([
      { key: "users/alice/beach day.jpg", etag: "abc", size: 120 },
      { key: "users/bob/a,b.png", etag: "0a1", size: 7 },
    ]);
  });

  it("says which column is missing from a schema it cannot use", async () => {
    dir = await mkdtemp(join(tmpdir(), "inventory-"));
    await writeFile(join(dir, "manifest.json"), JSON.stringify({ fileFormat: "CSV", fileSchema: "Bucket, Key, Size", files: [] }));
    await expect(collect(join(dir, "manifest.json"))).rejects.toThrow(/no ETag column/);
  });
});
