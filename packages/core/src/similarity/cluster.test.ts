import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mobilenetV2Int8 } from "../models.ts";
import { type ClusterOptions, clusterEdges, clusterOptionsFor, clusterVectors, graphAnswers } from "./cluster.ts";
import { dotAgainstAll } from "./dot.ts";
import { EdgeBuffer, type Edges, edgesAbove } from "./edges.ts";
import { normalizeRows } from "./normalize.ts";
import { clusteredVectors } from "./synthetic.ts";

const bands = { medium: 0.85, high: 0.92 };
const opts = (threshold: number, floor = 0.5): ClusterOptions => ({ threshold, floor, bands, minSize: 1 });

/** A neighbour graph built the way the store does it: each new vector against those before it. */
function graphLikeTheStore(v: Float32Array, n: number, d: number, floor: number): Edges {
  const out = new EdgeBuffer();
  const scores = new Float32Array(n);
  for (let i = 1; i < n; i++) {
    dotAgainstAll(v, i, d, v.subarray(i * d, i * d + d), scores);
    for (let j = 0; j < i; j++) if (scores[j] >= floor) out.push(j, i, scores[j]);
  }
  return out.finish();
}

/** A partition as sorted lists of sorted members, comparable with toEqual. */
const partition = (clusters: { members: number[] }[]) => clusters.map((c) => [...c.members].sort((a, b) => a - b)).sort((a, b) => a[0] - b[0]);

/** Small sets of unit vectors (some zero) with generic float coordinates. */
const vectorSets = fc
  .record({ n: fc.integer({ min: 0, max: 14 }), d: fc.integer({ min: 1, max: 5 }) })
  .chain(({ n, d }) =>
    fc.record({
      n: fc.constant(n),
      d: fc.constant(d),
      values: fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: n * d, maxLength: n * d }),
    }),
  )
  .map(({ n, d, values }) => ({ n, d, v: normalizeRows(Float32Array.from(values), n, d) }));

describe("clusterEdges", () => {
  it("groups near-duplicates and leaves distractors out", () => {
    // Prepare
    const { vectors, labels } = clusteredVectors({ n: 300, d: 64, seed: 3, groupCosine: 0.93 });
    // Act
    const clusters = clusterVectors(vectors, 300, 64, { threshold: 0.85, floor: 0.6, bands });
    // Assess
    for (const c of clusters) expect(new Set(c.members.map((m) => labels[m])).size).toBe(1);
    expect(clusters.every((c) => c.members.every((m) => labels[m] >= 0))).toBe(true);
    expect(clusters.length).toBeGreaterThan(20);
  });

  it("serves from a stored graph the very clusters the exact path computes", () => {
    // Prepare
    const n = 400;
    const d = 96;
    const { vectors } = clusteredVectors({ n, d, seed: 9, groupCosine: 0.85, groupSize: [2, 12] });
    const graph = graphLikeTheStore(vectors, n, d, 0.6);
    for (const threshold of [0.6, 0.75, 0.8, 0.85, 0.9, 0.95]) {
      // Act
      const fromGraph = clusterEdges(n, graph, { threshold, floor: 0.6, bands });
      const exact = clusterVectors(vectors, n, d, { threshold, floor: 0.6, bands });
      // Assess
      expect(fromGraph).toEqual(exact);
    }
  });

  it("answers from a graph whose floor is at or below the clustering floor, whatever the threshold", () => {
    expect(graphAnswers(0.75, clusterOptionsFor(mobilenetV2Int8, { threshold: 0.1 }))).toBe(true);
    expect(graphAnswers(0.8, clusterOptionsFor(mobilenetV2Int8, { threshold: 0.95 }))).toBe(false);
  });

  it("splits a chain that single linkage would glue together", () => {
    // a–b and c–d are tight pairs; one weak bridge b–c links them.
    const edges: Edges = { a: Uint32Array.of(0, 1, 2), b: Uint32Array.of(1, 2, 3), s: Float32Array.of(0.95, 0.81, 0.95) };
    const clusters = clusterEdges(4, edges, { threshold: 0.8, floor: 0.6, bands });
    expect(partition(clusters)).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });

  it("reports weakest pair, mean pair and band over all member pairs, absent pairs as 0", () => {
    const edges: Edges = { a: Uint32Array.of(0, 0, 1), b: Uint32Array.of(1, 2, 2), s: Float32Array.of(0.96, 0.94, 0.93) };
    const [c] = clusterEdges(3, edges, { threshold: 0.9, floor: 0.6, bands });
    expect(c.members).toEqual([0, 1, 2]);
    expect(c.minSimilarity).toBeCloseTo(0.93, 6);
    expect(c.meanSimilarity).toBeCloseTo((0.96 + 0.94 + 0.93) / 3, 6);
    expect(c.band).toBe("high");
    const loose = clusterEdges(3, { a: Uint32Array.of(0, 1), b: Uint32Array.of(1, 2), s: Float32Array.of(0.97, 0.97) }, { threshold: 0.4, floor: 0.6, bands });
    expect(loose[0].members).toEqual([0, 1, 2]);
    expect(loose[0].minSimilarity).toBe(0);
    expect(loose[0].band).toBe("low");
  });

  it("returns clusters largest first, ties by smallest member, and honours minSize", () => {
    const edges: Edges = { a: Uint32Array.of(4, 0, 2, 2, 3), b: Uint32Array.of(5, 1, 3, 6, 6), s: Float32Array.of(0.9, 0.9, 0.9, 0.9, 0.9) };
    const all = clusterEdges(8, edges, { threshold: 0.8, floor: 0.6, bands, minSize: 1 });
    expect(all.map((c) => c.members)).toEqual([[2, 3, 6], [0, 1], [4, 5], [7]]);
    expect(clusterEdges(8, edges, { threshold: 0.8, floor: 0.6, bands, minSize: 3 }).map((c) => c.members)).toEqual([[2, 3, 6]]);
  });

  it("puts everything in one cluster at threshold 0 and nothing when there are no images", () => {
    expect(clusterEdges(3, { a: new Uint32Array(), b: new Uint32Array(), s: new Float32Array() }, opts(0)).map((c) => c.members)).toEqual([[0, 1, 2]]);
    expect(clusterVectors(new Float32Array(), 0, 4, opts(0.8))).toEqual([]);
  });

  it("rejects thresholds, floors and minSize out of range", () => {
    const none: Edges = { a: new Uint32Array(), b: new Uint32Array(), s: new Float32Array() };
    expect(() => clusterEdges(1, none, opts(1.5))).toThrow(/threshold/);
    expect(() => clusterEdges(1, none, opts(0.8, 0))).toThrow(/floor/);
    expect(() => clusterEdges(1, none, { ...opts(0.8), minSize: 0 })).toThrow(/minSize/);
  });

  it("uses the model's calibration: the API threshold 0.80 cuts at cosine 0.785", () => {
    const o = clusterOptionsFor(mobilenetV2Int8, { threshold: 0.8 });
    const edges: Edges = { a: Uint32Array.of(0, 2), b: Uint32Array.of(1, 3), s: Float32Array.of(0.79, 0.78) };
    const clusters = clusterEdges(4, edges, o);
    expect(clusters.map((c) => c.members)).toEqual([[0, 1]]);
    expect(clusters[0].minSimilarity).toBeCloseTo(0.8 + (0.005 / 0.0375) * 0.05, 6);
  });

  it("never merges clusters when the threshold rises", () => {
    fc.assert(
      fc.property(vectorSets, fc.double({ min: 0.3, max: 1, noNaN: true }), fc.double({ min: 0.3, max: 1, noNaN: true }), ({ n, d, v }, x, y) => {
        const [low, high] = x <= y ? [x, y] : [y, x];
        const coarse = clusterVectors(v, n, d, opts(low, 0.3));
        const fine = clusterVectors(v, n, d, opts(high, 0.3));
        const owner = new Map<number, number>();
        for (const [k, c] of coarse.entries()) for (const m of c.members) owner.set(m, k);
        for (const c of fine) expect(new Set(c.members.map((m) => owner.get(m))).size).toBe(1);
      }),
      { numRuns: 300 },
    );
  });

  it("gives the same partition whatever the input order", () => {
    fc.assert(
      fc.property(
        vectorSets,
        fc.double({ min: 0.3, max: 1, noNaN: true }),
        fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })),
        ({ n, d, v }, t, keys) => {
          const e = edgesAbove(v, n, d, 0.3);
          fc.pre(new Set(e.s).size === e.s.length); // exact ties are broken by index, so exclude them
          const key = [...keys.take(n)];
          const perm = Array.from({ length: n }, (_, i) => i).sort((a, b) => key[a] - key[b] || a - b);
          const w = new Float32Array(n * d);
          for (const [dst, src] of perm.entries()) w.set(v.subarray(src * d, src * d + d), dst * d);
          const direct = partition(clusterVectors(v, n, d, opts(t, 0.3)));
          const permuted = partition(clusterVectors(w, n, d, opts(t, 0.3)).map((c) => ({ members: c.members.map((m) => perm[m]) })));
          expect(permuted).toEqual(direct);
        },
      ),
      { numRuns: 300 },
    );
  });
});
