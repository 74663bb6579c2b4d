import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { del, put, quietLogger, tempRoot, testModel, vectorFor } from "../fixtures/factories.ts";
import { expectGraphExact } from "../fixtures/graph-check.ts";
import { openStore } from "../index.ts";

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ root, cleanup } = await tempRoot()));
afterEach(() => cleanup());

const model = testModel(8, 0.3);

describe("neighbour graph", () => {
  it("equals the exact all-pairs edges above the floor after many appends, replacements and deletes", async () => {
    const store = openStore({ root, model, logger: quietLogger, compaction: { minDead: 1_000_000 } });
    let seq = 1;
    let rnd = 12345;
    const next = () => {
      rnd = (rnd * 1103515245 + 12345) & 0x7fffffff;
      return rnd / 0x7fffffff;
    };
    for (let batch = 0; batch < 40; batch++) {
      const events = [];
      for (let e = 0; e < 8; e++) {
        const image = `img${Math.floor(next() * 60)}`;
        const r = next();
        if (r < 0.25) events.push(del("alice", image, seq++));
        else events.push(put("alice", image, seq++, { vector: vectorFor(seq * 31, 8) }));
      }
      await store.write("alice", events);
    }

    const snapshot = await store.read("alice");

    expect(snapshot.images.length).toBeGreaterThan(20);
    expectGraphExact(snapshot, 0.3);
  });

  it("stays exact through compaction and after a rebuild", async () => {
    const store = openStore({ root, model, logger: quietLogger, compaction: { minDead: 1_000_000 } });
    for (let i = 0; i < 50; i++) await store.write("alice", [put("alice", `i${i % 20}`, i + 1, { vector: vectorFor(i, 8) })]);
    const before = await store.read("alice");

    await store.compact("alice");
    const compacted = await store.read("alice");
    await store.rebuildGraph("alice");
    const rebuilt = await store.read("alice");

    expect(compacted.images).toEqual(before.images);
    expectGraphExact(compacted, 0.3);
    expectGraphExact(rebuilt, 0.3);
    expect(rebuilt.graph!.edges.a.length).toBe(before.graph!.edges.a.length);
  });

  it("completes on read a graph a few records behind its log (its unsynced last frame lost in a crash), exactly", async () => {
    // Arrange: 700 photos, then a batch that replaces one, deletes one and adds two, whose graph frame is lost.
    const store = openStore({ root, model, logger: quietLogger });
    for (let i = 0; i < 700; i += 50) {
      await store.write(
        "alice",
        Array.from({ length: 50 }, (_, k) => put("alice", `i${i + k}`, i + k + 1, { vector: vectorFor(i + k, 8) })),
      );
    }
    const graphFile = `${root}/alice/${model.id}.graph`;
    const { stat, truncate } = await import("node:fs/promises");
    const graphBefore = (await stat(graphFile)).size;
    await store.write("alice", [
      put("alice", "i3", 800, { vector: vectorFor(1003, 8) }),
      del("alice", "i7", 801),
      put("alice", "new1", 802, { vector: vectorFor(2001, 8) }),
      put("alice", "new2", 803, { vector: vectorFor(2002, 8) }),
    ]);
    await truncate(graphFile, graphBefore);

    // Act
    const snapshot = await store.read("alice");

    // Assert
    expect(snapshot.images.map((i) => i.imageId)).toEqual(expect.arrayContaining(["i3", "new1", "new2"]));
    expect(snapshot.images.map((i) => i.imageId)).not.toContain("i7");
    expectGraphExact(snapshot, 0.3);
  });

  it("reads without a graph when too much of the log is uncovered for completing it to pay", async () => {
    // Arrange: 150 photos whose graph holds only the first one's frame.
    const store = openStore({ root, model, logger: quietLogger });
    const graphFile = `${root}/alice/${model.id}.graph`;
    await store.write("alice", [put("alice", "first", 1, { dimension: 8 })]);
    const { stat, truncate } = await import("node:fs/promises");
    const headerOnly = (await stat(graphFile)).size;
    await store.write(
      "alice",
      Array.from({ length: 149 }, (_, k) => put("alice", `i${k}`, k + 2, { vector: vectorFor(k, 8) })),
    );
    await truncate(graphFile, headerOnly);

    // Act
    const snapshot = await store.read("alice");

    // Assert
    expect(snapshot.images).toHaveLength(150);
    expect(snapshot.graph).toBeNull();
  });

  it("catches up after the graph file is lost", async () => {
    const store = openStore({ root, model, logger: quietLogger });
    for (let i = 0; i < 30; i++) await store.write("alice", [put("alice", `i${i}`, i + 1, { vector: vectorFor(i, 8) })]);
    const { rm } = await import("node:fs/promises");
    await rm(`${root}/alice/${model.id}.graph`);

    expect((await store.read("alice")).graph).toBeNull();
    await openStore({ root, model, logger: quietLogger }).write("alice", [put("alice", "late", 99, { dimension: 8 })]);

    expectGraphExact(await store.read("alice"), 0.3);
  });
});
