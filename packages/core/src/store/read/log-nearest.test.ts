/**
 * `nearest` answers `similar` beyond the graph by scanning the log in chunks: it must rank exactly as
 * all the vectors do (topSimilar over a full read), whatever the chunk size and wherever the photo
 * lies in the log, leave out deleted and replaced photos, and notice a log replaced under its view.
 */
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { topSimilar } from "../../similarity/top-similar.ts";
import { del, put, quietLogger, tempRoot, testModel, vectorFor } from "../fixtures/factories.ts";
import { openStore } from "../index.ts";
import { nearestInLog, type ScannableView } from "./log-nearest.ts";
import { userPaths } from "../store-paths.ts";
import type { UserView } from "../types.ts";

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ root, cleanup } = await tempRoot()));
afterEach(() => cleanup());

const D = 12;
// A floor no pair reaches: the graph holds no neighbours, so `similar` always needs the scan.
const model = testModel(D, 0.999);

/** The answer all the vectors give, by image id, with the raw cosines. */
async function expected(userId: string, imageId: string, limit: number) {
  const full = await openStore({ root, model, logger: quietLogger }).read(userId);
  const index = full.images.findIndex((i) => i.imageId === imageId);
  return topSimilar(full.vectors, full.images.length, D, index, limit).map((n) => ({ imageId: full.images[n.index].imageId, cosine: n.similarity }));
}

const named = (view: UserView, found: Array<{ row: number; cosine: number }>) => found.map((n) => ({ imageId: view.imageId(n.row), cosine: n.cosine }));

describe("nearest", () => {
  it("ranks as all the vectors do, with deleted and replaced photos left out", async () => {
    // Prepare: 40 photos in four batches; then two deleted and one replaced by another vector
    const store = openStore({ root, model, logger: quietLogger });
    for (let b = 0; b < 4; b++)
      await store.write(
        "u",
        Array.from({ length: 10 }, (_, i) => put("u", `p${b * 10 + i}`, b * 10 + i + 1, { vector: vectorFor(b * 10 + i, D) })),
      );
    await store.write("u", [del("u", "p3", 100), del("u", "p17", 101), put("u", "p25", 102, { etag: "new", vector: vectorFor(999, D) })]);
    // Act
    const answers = await Promise.all(["p0", "p25", "p39"].map((id) => store.nearest("u", id, 8)));
    // Assess
    for (const [k, id] of ["p0", "p25", "p39"].entries()) {
      const { view, neighbours } = answers[k]!;
      expect(named(view, neighbours)).toEqual(await expected("u", id, 8));
      expect(named(view, neighbours).map((n) => n.imageId)).not.toContain("p3");
    }
    expect(await store.nearest("u", "p3", 8)).toBeUndefined();
    expect(await store.nearest("u", "nobody", 8)).toBeUndefined();
    await expect(store.nearest("u", "p0", -1)).rejects.toThrow(/limit must be a non-negative integer/);
  });

  it("gives the same answer in chunks of any size, for a photo anywhere in the log", async () => {
    const store = openStore({ root, model, logger: quietLogger });
    await store.write(
      "u",
      Array.from({ length: 30 }, (_, i) => put("u", `p${i}`, i + 1, { vector: vectorFor(i, D) })),
    );
    const view = (await store.readView("u")) as UserView & ScannableView;
    const log = userPaths(root, "u", model.id).log;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 29 }), fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 0, max: 35 }), async (row, chunkBytes, limit) => {
        const found = await nearestInLog(log, view, row, limit, chunkBytes);
        expect(found).not.toBe("stale");
        expect(named(view, found as Array<{ row: number; cosine: number }>)).toEqual(await expected("u", `p${row}`, limit));
      }),
      { numRuns: 60 },
    );
  });

  it("reports a view whose log was compacted since as stale, and the store reads the view again", async () => {
    // Prepare: a view read before a compaction rewrote the log without the deleted photos
    const store = openStore({ root, model, logger: quietLogger });
    await store.write(
      "u",
      Array.from({ length: 12 }, (_, i) => put("u", `p${i}`, i + 1, { vector: vectorFor(i, D) })),
    );
    await store.write("u", [del("u", "p1", 50), del("u", "p2", 51)]);
    const before = (await store.readView("u")) as UserView & ScannableView;
    await store.compact("u");
    // Act
    const scanned = await nearestInLog(userPaths(root, "u", model.id).log, before, before.rowOf("p9"), 5);
    const answered = await store.nearest("u", "p9", 5, before);
    // Assess
    expect(scanned).toBe("stale");
    expect(named(answered!.view, answered!.neighbours)).toEqual(await expected("u", "p9", 5));
  });
});
