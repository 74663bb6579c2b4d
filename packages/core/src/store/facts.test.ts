import { appendFile, readFile, stat, truncate, writeFile } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PhotoFacts } from "../facts/photo-facts.ts";
import { openStore } from "./embedding-store.ts";
import { del, put, quietLogger, tempRoot, testModel } from "./fixtures/factories.ts";
import { userPaths } from "./store-paths.ts";
import type { EmbeddingStore, PutEvent, UserView } from "./types.ts";

const model = testModel();
let root: string;
let cleanup: () => Promise<void>;
let store: EmbeddingStore;
beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
  store = openStore({ root, model, logger: quietLogger, compaction: { minDead: 1_000_000 } });
});
afterEach(() => cleanup());

function factsOf(n: number): PhotoFacts {
  return {
    takenAt: `2024-05-06T07:08:0${n}`,
    width: 4032,
    height: 3024,
    bytes: 1000 + n,
    format: "heic",
    jpegQuality: null,
    noise: 0.001,
    sha256: String(n % 10).repeat(64),
    phash: String(n % 10).repeat(16),
    sharpness: 0.5,
    exposure: { mean: 0.5, shadows: 0, highlights: 0.01 },
    rgb: [0.5, 0.5, 0.5],
    chroma: 0,
  };
}
const withFacts = (event: PutEvent, n: number): PutEvent => ({ ...event, facts: factsOf(n) });
const byId = (view: UserView) => {
  const out: Record<string, PhotoFacts | null> = {};
  for (let row = 0; row < view.rows; row++) if (view.live(row)) out[view.imageId(row)] = view.facts(row);
  return out;
};
const factsFile = () => userPaths(root, "u", model.id).facts;

describe("photo facts in the store", () => {
  it("gives each photo the facts it was stored with, from the view and from a full read", async () => {
    await store.write("u", [withFacts(put("u", "a", 1), 1), withFacts(put("u", "b", 2), 2), put("u", "c", 3)]);

    expect(byId(await store.readView("u"))).toEqual({ a: factsOf(1), b: factsOf(2), c: null });
    const snapshot = await store.read("u");
    expect(snapshot.images.map((img, row) => [img.imageId, snapshot.facts?.(row)])).toEqual([
      ["a", factsOf(1)],
      ["b", factsOf(2)],
      ["c", null],
    ]);
  });

  it("never shows a replaced photo's facts for its replacement, and reads only what was added", async () => {
    const first = await store.readView("u");
    await store.write("u", [withFacts(put("u", "a", 1), 1)]);
    const view = await store.readView("u", first);
    expect(byId(view)).toEqual({ a: factsOf(1) });

    await store.write("u", [put("u", "a", 2, { etag: "new" })]); // replaced, by a poller that sent no facts
    expect(byId(await store.readView("u", view))).toEqual({ a: null });
    await store.write("u", [withFacts(put("u", "a", 3, { etag: "newer" }), 3)]);
    expect(byId(await store.readView("u", view))).toEqual({ a: factsOf(3) });
  });

  it("fills in the facts of a photo stored without them when it is sent again (backfill --reembed)", async () => {
    const event = put("u", "a", 1);
    await store.write("u", [event]);
    const result = await store.write("u", [withFacts(event, 4)]);

    expect(result.results[0]).toEqual({ key: event.key, outcome: "duplicate" });
    expect(byId(await openStore({ root, model, logger: quietLogger }).readView("u"))).toEqual({ a: factsOf(4) });
  });

  it("keeps only the live photos' facts when the log is compacted", async () => {
    await store.write("u", [withFacts(put("u", "a", 1), 1), withFacts(put("u", "b", 2), 2)]);
    await store.write("u", [del("u", "b", 3)]);
    const before = (await readFile(factsFile())).length;

    await store.compact("u");

    expect(byId(await store.readView("u"))).toEqual({ a: factsOf(1) });
    const after = await readFile(factsFile(), "utf8");
    expect(after).not.toContain(factsOf(2).sha256); // a deleted photo's facts are gone
    expect(after.length).toBeLessThan(before);
  });

  it("cuts a torn facts frame before appending, and readers never see it", async () => {
    await store.write("u", [withFacts(put("u", "a", 1), 1)]);
    await appendFile(factsFile(), Buffer.from([200, 0, 0, 0, 1, 2, 3])); // a crash mid-append
    expect(byId(await store.readView("u"))).toEqual({ a: factsOf(1) });

    const fresh = openStore({ root, model, logger: quietLogger });
    await fresh.write("u", [withFacts(put("u", "b", 2), 2)]);
    expect(byId(await fresh.readView("u"))).toEqual({ a: factsOf(1), b: factsOf(2) });
  });

  it("reads photos stored before facts existed as having none, and writes to them as before", async () => {
    await store.write("u", [put("u", "a", 1)]);
    await expect(stat(factsFile())).rejects.toThrow(); // no facts file at all, as in every older store

    expect(byId(await store.readView("u"))).toEqual({ a: null });
    await store.write("u", [withFacts(put("u", "b", 2), 2)]);
    expect(byId(await store.readView("u"))).toEqual({ a: null, b: factsOf(2) });
  });

  it("drops facts of the wrong shape and keeps the photo", async () => {
    const bad = { ...put("u", "a", 1), facts: { ...factsOf(1), sharpness: 7 } as PhotoFacts };
    const result = await store.write("u", [bad]);
    expect(result.results[0].outcome).toBe("stored");
    expect(byId(await store.readView("u"))).toEqual({ a: null });
  });

  it("reads a facts file cut inside its header as having no facts, and starts it again on the next write", async () => {
    await store.write("u", [withFacts(put("u", "a", 1), 1)]);
    await truncate(factsFile(), 10);
    const fresh = openStore({ root, model, logger: quietLogger });
    expect(byId(await fresh.readView("u"))).toEqual({ a: null });

    await fresh.write("u", [withFacts(put("u", "b", 2), 2)]); // and the next write starts the file again
    expect(byId(await fresh.readView("u"))).toEqual({ a: null, b: factsOf(2) });
  });

  it("answers with no facts from a damaged facts file, and the next write starts the file again", async () => {
    await store.write("u", [withFacts(put("u", "a", 1), 1)]);
    await writeFile(factsFile(), "not a facts file at all, whatever its name says");

    const fresh = openStore({ root, model, logger: quietLogger });
    expect(byId(await fresh.readView("u"))).toEqual({ a: null });
    expect((await fresh.read("u")).facts?.(0)).toBeNull();

    await fresh.write("u", [withFacts(put("u", "b", 2), 2)]);
    expect(byId(await fresh.readView("u"))).toEqual({ a: null, b: factsOf(2) });
  });

  it("keeps every photo's facts when two reads of one view refresh it at once", async () => {
    await store.write("u", [withFacts(put("u", "a", 1), 1)]);
    const view = await store.readView("u");
    await store.write("u", [withFacts(put("u", "b", 2), 2)]);

    await Promise.all([store.readView("u", view), store.readView("u", view), store.readView("u", view)]);
    await store.write("u", [withFacts(put("u", "c", 3), 3)]);

    expect(byId(await store.readView("u", view))).toEqual({ a: factsOf(1), b: factsOf(2), c: factsOf(3) });
  });
});
