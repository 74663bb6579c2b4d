import { stat } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { del, put, quietLogger, tempRoot, testModel, vectorFor } from "../fixtures/factories.ts";
import { openStore, userPaths } from "../index.ts";

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ root, cleanup } = await tempRoot()));
afterEach(() => cleanup());

const model = testModel(32, 0.2);
const D = { dimension: 32 };

describe("compaction", () => {
  it("keeps every live image, its vector and its tombstones, and shrinks the file", async () => {
    const store = openStore({ root, model, logger: quietLogger, compaction: { minDead: 1_000_000 } });
    for (let round = 0; round < 5; round++) {
      await store.write(
        "alice",
        Array.from({ length: 40 }, (_, i) => put("alice", `i${i}`, round * 100 + i + 1, D)),
      );
    }
    await store.write("alice", [del("alice", "i0", 1000), del("alice", "i1", 1001)]);
    const before = await store.read("alice");
    const { log } = userPaths(root, "alice", model.id);
    const sizeBefore = (await stat(log)).size;

    const result = await store.compact("alice");
    const after = await store.read("alice");

    expect(after.images).toEqual(before.images);
    expect(Array.from(after.vectors)).toEqual(Array.from(before.vectors));
    expect(result).toMatchObject({ recordsBefore: 202, recordsAfter: 40 });
    expect((await stat(log)).size).toBeLessThan(sizeBefore / 3);
    // The tombstones survived: a late older put still cannot bring i0 back.
    expect((await store.write("alice", [put("alice", "i0", 5, D)])).results[0].outcome).toBe("stale");
  });

  it("runs by itself once most records are dead", async () => {
    const store = openStore({ root, model, logger: quietLogger, compaction: { minDead: 50, ratio: 0.5 } });
    let compactions = 0;
    for (let round = 0; round < 6; round++) {
      const result = await store.write(
        "alice",
        Array.from({ length: 20 }, (_, i) => put("alice", `i${i}`, round * 100 + i + 1, D)),
      );
      if (result.compacted) compactions++;
    }

    expect(compactions).toBeGreaterThan(0);
    expect((await store.read("alice")).images.length).toBe(20);
  });

  it("never shows a concurrent reader a broken file", async () => {
    const store = openStore({ root, model, logger: quietLogger, compaction: { minDead: 1_000_000 } });
    const reader = openStore({ root, model, logger: quietLogger });
    await store.write(
      "alice",
      Array.from({ length: 30 }, (_, i) => put("alice", `i${i}`, i + 1, { vector: vectorFor(i, 32) })),
    );
    let stop = false;
    const seen: number[] = [];
    const reads = (async () => {
      while (!stop) {
        const s = await reader.read("alice");
        seen.push(s.images.length);
        expect(s.vectors.length).toBe(s.images.length * 32);
        for (const v of s.vectors) expect(Number.isFinite(v)).toBe(true);
        expect(new Set(s.images.map((i) => i.key)).size).toBe(s.images.length);
      }
    })();

    for (let round = 1; round <= 15; round++) {
      await store.write(
        "alice",
        Array.from({ length: 30 }, (_, i) => put("alice", `i${i}`, round * 100 + i + 1, D)),
      );
      await store.compact("alice");
      await new Promise((r) => setImmediate(r));
    }
    stop = true;
    await reads;

    expect(seen.length).toBeGreaterThan(5);
    expect(seen.every((n) => n === 30)).toBe(true);
  });
});
