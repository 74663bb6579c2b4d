import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mobilenetV2Int8, type ModelDescriptor, openStore, type UserView } from "@photo-clusters/core";
import { afterEach, describe, expect, it } from "vitest";
import { cachedReader } from "./view-cache.ts";

const model: ModelDescriptor = { ...mobilenetV2Int8, id: "tiny-4", dimension: 4 };
const put = (id: string, sequencer: string, v: number[]) => ({
  kind: "put" as const,
  key: `users/u/${id}.jpg`,
  imageId: id,
  etag: `${id}${sequencer}`,
  sequencer,
  vector: Float32Array.from(v),
});

const ids = (v: UserView) =>
  Array.from({ length: v.rows }, (_, r) => r)
    .filter((r) => v.live(r))
    .map((r) => v.imageId(r));

describe("cachedReader", () => {
  let root: string;
  afterEach(() => rm(root, { recursive: true, force: true }));

  it("reuses a view until the user's files change, then reads what they grew by, or all after a compaction", async () => {
    // Prepare
    root = await mkdtemp(join(tmpdir(), "view-cache-"));
    const store = openStore({ root, model });
    const read = cachedReader(store);
    await store.write("u", [put("a", "01", [1, 0, 0, 0])]);
    // Act
    const first = await read("u");
    const again = await read("u");
    await store.write("u", [put("b", "02", [0, 1, 0, 0])]);
    const afterAppend = await read("u");
    await store.compact("u");
    const afterCompaction = await read("u");
    // Assess
    expect(again).toBe(first);
    expect(ids(afterAppend)).toEqual(["a", "b"]);
    expect(afterAppend).toBe(first); // updated in place with the appended records
    expect(ids(afterCompaction)).toEqual(["a", "b"]);
    expect(afterCompaction).not.toBe(afterAppend);
  });

  it("keeps no more views than its memory budget, dropping the least recently used", async () => {
    // Prepare: three users of 100 photos each, and room for two of them
    root = await mkdtemp(join(tmpdir(), "view-cache-"));
    const store = openStore({ root, model });
    for (const user of ["a", "b", "c"]) {
      await store.write(
        user,
        Array.from({ length: 100 }, (_, i) => ({ ...put(`p${i}`, String(i + 1).padStart(2, "0"), [1, i, 0, 0]), key: `users/${user}/p${i}.jpg` })),
      );
    }
    const size = (await store.readView("a")).bytes;
    const read = cachedReader(store, { maxBytes: 2.5 * size });
    // Act
    const a = await read("a");
    const b = await read("b");
    const aAgain = await read("a"); // a is now the most recent; b the least
    await read("c"); // over budget: b goes
    // Assess
    expect(aAgain).toBe(a);
    expect(await read("a")).toBe(a);
    expect(await read("b")).not.toBe(b);
  });

  it("answers a user without files with an empty view, and picks up their first photo", async () => {
    root = await mkdtemp(join(tmpdir(), "view-cache-"));
    const store = openStore({ root, model });
    const read = cachedReader(store);
    expect((await read("u")).imageCount).toBe(0);
    await store.write("u", [put("a", "01", [1, 0, 0, 0])]);
    expect(ids(await read("u"))).toEqual(["a"]);
  });
});
