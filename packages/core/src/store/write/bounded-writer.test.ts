/**
 * The writer scores new photos against compact int8 rows and re-scores the pairs that may reach the
 * floor from the log, or, for a user too large for its memory budget, against the log streamed from
 * disk. Either way the graph must be exactly what all pairs give, as dotF32 computes them: every
 * pair at or above the floor, the pair right at it included, and no other.
 */
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dotF32 } from "../../similarity/dot.ts";
import { createKernel } from "../../similarity/kernel.ts";
import { CompactRows } from "./compact-rows.ts";
import { del, put, quietLogger, tempRoot, testModel } from "../fixtures/factories.ts";
import { openStore } from "../index.ts";
import type { Snapshot, StoreEvent } from "../types.ts";

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ root, cleanup } = await tempRoot()));
afterEach(() => cleanup());

const D = 50; // not a multiple of 16: the compact rows' padding is exercised

/** Unit vectors around a few centres, so many pairs lie near any floor. */
function clustered(count: number, seed: number): Float32Array[] {
  let s = seed;
  const random = () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff - 0.5;
  };
  const centres = Array.from({ length: 4 }, () => Float32Array.from({ length: D }, random));
  return Array.from({ length: count }, (_, i) => {
    const v = Float32Array.from(centres[i % 4]!, (x) => x + random() * 0.6);
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
}

/** Every pair (a < b) of the snapshot's rows with its dotF32, and the graph's edges, both as "a-b" → s. */
function pairs(snapshot: Snapshot, floor: number) {
  const { vectors, images } = snapshot;
  const want = new Map<string, number>();
  for (let j = 0; j < images.length; j++)
    for (let i = 0; i < j; i++) {
      const s = dotF32(vectors, i * D, vectors, j * D, D);
      if (s >= floor) want.set(`${i}-${j}`, s);
    }
  const got = new Map<string, number>();
  const { a, b, s } = snapshot.graph!.edges;
  for (let k = 0; k < a.length; k++) got.set(`${a[k]}-${b[k]}`, s[k]!);
  return { want, got };
}

/** 30 batches of puts, replacements and deletes over 80 names; the same for any store. */
function batches(vectors: Float32Array[]): StoreEvent[][] {
  const out: StoreEvent[][] = [];
  let seq = 1;
  let r = 99;
  const next = () => {
    r = (r * 1103515245 + 12345) & 0x7fffffff;
    return r / 0x7fffffff;
  };
  for (let batch = 0; batch < 30; batch++) {
    const events: StoreEvent[] = [];
    for (let e = 0; e < 6; e++) {
      const image = `img${Math.floor(next() * 80)}`;
      events.push(next() < 0.2 ? del("ann", image, seq++) : put("ann", image, seq++, { vector: vectors[seq % vectors.length] }));
    }
    out.push(events);
  }
  return out;
}

describe("the writer's bounded memory", () => {
  const vectors = clustered(120, 7);
  // The floor is exactly one pair's similarity: that pair must be an edge, at exactly that value.
  const floor = dotF32(vectors[3]!, 0, vectors[7]!, 0, D);
  const model = testModel(D, floor);

  it("keeps the graph exactly all pairs at or above the floor, the pair right at it included, across appends, deletes, a compaction and a new process's catch-up", async () => {
    // Prepare
    const events = batches(vectors);
    const atFloor = [put("ann", "left", 10_000, { vector: vectors[3] }), put("ann", "right", 10_001, { vector: vectors[7] })];

    // Act: half the batches, a compaction, the rest from another store (a new container catching up)
    const first = openStore({ root, model, logger: quietLogger, compaction: { minDead: 1_000_000 } });
    for (const batch of events.slice(0, 15)) await first.write("ann", batch);
    await first.write("ann", atFloor);
    await first.compact("ann");
    const second = openStore({ root, model, logger: quietLogger, compaction: { minDead: 1_000_000 } });
    for (const batch of events.slice(15)) await second.write("ann", batch);
    const snapshot = await second.read("ann");

    // Assess
    const { want, got } = pairs(snapshot, floor);
    const left = snapshot.images.findIndex((i) => i.imageId === "left");
    const right = snapshot.images.findIndex((i) => i.imageId === "right");
    expect(snapshot.images.length).toBeGreaterThan(40);
    expect(want.size).toBeGreaterThan(50);
    expect(got).toEqual(want);
    expect(got.get(`${Math.min(left, right)}-${Math.max(left, right)}`)).toBe(floor);
  });

  it("stores every photo of a user too large for its memory budget, with the same exact graph, and says so", async () => {
    // Prepare
    const events = batches(vectors);
    const warnings: string[] = [];
    const counts: string[] = [];
    const metrics = { count: (name: string) => void counts.push(name), time() {}, flush() {} };
    const small = openStore({
      root: `${root}/small`,
      model,
      memoryBudgetBytes: 1,
      metrics,
      logger: { ...quietLogger, warn: (m: string) => void warnings.push(m) },
    });
    const roomy = openStore({ root: `${root}/roomy`, model, logger: quietLogger });

    // Act
    for (const batch of events) {
      await small.write("ann", batch);
      await roomy.write("ann", batch);
    }
    const [a, b] = await Promise.all([small.read("ann"), roomy.read("ann")]);

    // Assess
    expect(a.images).toEqual(b.images);
    const { want, got } = pairs(a, floor);
    expect(got).toEqual(want);
    expect(got).toEqual(pairs(b, floor).got);
    expect(warnings.some((w) => /too large for the writer's memory budget/.test(w))).toBe(true);
    // The first write finds an empty log, within any budget; every later one streams.
    expect(counts.filter((c) => c === "StreamedWrites").length).toBe(events.length - 1);
  });

  it("scores one batch of more photos than a streamed block against each other too, for a user too large for its budget", async () => {
    const many = clustered(600, 5);
    const store = openStore({ root, model, memoryBudgetBytes: 1, logger: quietLogger });
    await store.write("ann", [put("ann", "first", 1, { vector: many[0] })]);

    await store.write(
      "ann",
      many.map((v, k) => put("ann", `p${k}`, k + 2, { vector: v })),
    );
    const snapshot = await store.read("ann");

    const { want, got } = pairs(snapshot, floor);
    expect(snapshot.images.length).toBe(601);
    expect(want.size).toBeGreaterThan(10_000);
    expect(got).toEqual(want);
  });

  it("rebuilds and compacts the graph of a user too large for its budget a block of rows at a time, exactly", async () => {
    // Prepare: 700 photos (more than one block of 512), a tenth of them replaced
    const many = clustered(700, 11);
    const store = openStore({ root, model, memoryBudgetBytes: 1, logger: quietLogger, compaction: { minDead: 1_000_000 } });
    for (let i = 0; i < 700; i += 50)
      await store.write(
        "ann",
        many.slice(i, i + 50).map((v, k) => put("ann", `p${i + k}`, i + k + 1, { vector: v })),
      );
    await store.write(
      "ann",
      many.slice(0, 70).map((_, k) => put("ann", `p${k * 10}`, 1000 + k, { vector: many[699 - k] })),
    );

    // Act
    await store.rebuildGraph("ann");
    const rebuilt = await store.read("ann");
    await store.compact("ann");
    const compacted = await store.read("ann");

    // Assess
    const { want, got } = pairs(rebuilt, floor);
    expect(rebuilt.images.length).toBe(700);
    expect(want.size).toBeGreaterThan(1000);
    expect(got).toEqual(want);
    expect(pairs(compacted, floor).got).toEqual(pairs(compacted, floor).want);
  });
});

describe("compact rows", () => {
  it("take every int8 dot product exactly, whatever the rows' length and count", () => {
    for (const [n, d] of [
      [1, 1],
      [5, 16],
      [9, 50],
      [33, 2048],
    ]) {
      const kernel = createKernel();
      const rowBytes = (d + 15) & ~15;
      const n4 = (n + 3) & ~3;
      kernel.reserve(n4 * rowBytes + rowBytes + n4 * 4);
      const mem = new Int8Array(kernel.memory.buffer);
      for (let i = 0; i < n4 * rowBytes + rowBytes; i++) mem[i] = ((i * 7919) % 255) - 127; // -127..127, padding included
      const q = n4 * rowBytes;
      kernel.dotAllI8(0, n4, rowBytes, q, q + rowBytes);
      const out = new Int32Array(kernel.memory.buffer, q + rowBytes, n4);
      for (let r = 0; r < n4; r++) {
        let want = 0;
        for (let k = 0; k < rowBytes; k++) want += mem[r * rowBytes + k]! * mem[q + k]!;
        expect(out[r], `n=${n} d=${d} row ${r}`).toBe(want);
      }
    }
  });

  it("mark every row whose float32 dot with a query reaches the floor, for any vectors and floor", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.double({ min: -0.5, max: 0.99, noNaN: true }),
        (n, d, seed, floorish) => {
          let s = seed;
          const random = () => {
            s = (s * 1103515245 + 12345) & 0x7fffffff;
            return s / 0x7fffffff - 0.5;
          };
          const base = Float32Array.from({ length: d }, random);
          const rows = Array.from({ length: n }, () => Float32Array.from(base, (x) => x + random() * 0.3));
          const query = rows[n - 1]!;
          const compact = new CompactRows(d, 1);
          rows.forEach((r, i) => {
            compact.ensureRows(i + 1);
            compact.set(i, r);
          });
          // A floor right at one row's similarity, or anywhere.
          const floor = seed % 2 === 0 ? dotF32(query, 0, rows[seed % n]!, 0, d) : floorish;
          const marks = compact.candidates(query, n, floor, new Uint8Array(n));
          for (let r = 0; r < n; r++) if (dotF32(query, 0, rows[r]!, 0, d) >= floor) expect(marks[r], `row ${r}`).toBe(1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("screen out most rows far below the floor", () => {
    const rows = clustered(400, 3);
    const compact = new CompactRows(D, 400);
    for (const [i, r] of rows.entries()) compact.set(i, r);
    const floor = 0.9;
    const marks = compact.candidates(rows[0]!, 400, floor, new Uint8Array(400));
    const reach = rows.filter((r) => dotF32(rows[0]!, 0, r, 0, D) >= floor - 0.1).length;
    expect(marks.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(reach);
  });
});
