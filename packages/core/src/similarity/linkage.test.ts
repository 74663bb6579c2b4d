import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { averageLinkage, averageLinkageDense, type ComponentEdges } from "./linkage.ts";

/** A random sparse graph on m members with generic similarities in [0.3, 1). */
const graphs = fc.integer({ min: 1, max: 40 }).chain((m) =>
  fc.record({
    m: fc.constant(m),
    pairs: fc.uniqueArray(
      fc.tuple(fc.integer({ min: 0, max: m - 1 }), fc.integer({ min: 0, max: m - 1 }), fc.double({ min: 0.3, max: 1, noNaN: true, maxExcluded: true })),
      {
        selector: ([a, b]) => (a < b ? `${a},${b}` : `${b},${a}`),
        maxLength: (m * (m - 1)) / 2,
      },
    ),
    cut: fc.double({ min: 0.3, max: 1, noNaN: true }),
  }),
);

function toEdges(pairs: Array<[number, number, number]>): ComponentEdges {
  const kept = pairs.filter(([a, b]) => a !== b);
  return {
    u: Int32Array.from(kept, (p) => p[0]),
    v: Int32Array.from(kept, (p) => p[1]),
    s: Float64Array.from(kept, (p) => p[2]),
    count: kept.length,
  };
}

/** Labels as a canonical partition (each member mapped to the smallest member of its cluster). */
function canonical(labels: Int32Array): number[] {
  const first = new Map<number, number>();
  return Array.from(labels, (l, i) => {
    if (!first.has(l)) first.set(l, i);
    return first.get(l)!;
  });
}

describe("average linkage", () => {
  it("makes the same merges with the dense scan and the sparse heap", () => {
    fc.assert(
      fc.property(graphs, ({ m, pairs, cut }) => {
        const edges = toEdges(pairs);
        const order = Array.from({ length: m }, (_, i) => i * 7);
        expect(canonical(averageLinkageDense(m, edges, cut, order))).toEqual(canonical(averageLinkage(m, edges, cut, order)));
      }),
      { numRuns: 500 },
    );
  });

  it("makes the same merges with the dense scan and the sparse heap on larger, denser components", () => {
    fc.assert(
      fc.property(fc.integer({ min: 33, max: 90 }), fc.integer({ min: 1, max: 2 ** 30 }), fc.double({ min: 0.4, max: 0.9, noNaN: true }), (m, seed, cut) => {
        // Groups of near-duplicates (with ties) and weaker links between them.
        let state = seed;
        const rand = () => {
          state = (state * 1103515245 + 12345) % 2 ** 31;
          return state / 2 ** 31;
        };
        const pairs: Array<[number, number, number]> = [];
        for (let a = 0; a < m; a++) {
          for (let b = a + 1; b < m; b++) {
            const near = Math.floor(a / 7) === Math.floor(b / 7);
            if (near || rand() < 0.2) pairs.push([a, b, near ? 0.8 + Math.round(rand() * 10) / 50 : 0.3 + rand() * 0.5]);
          }
        }
        const edges = toEdges(pairs);
        // Distinct keys in a shuffled order, as the members' global indexes are.
        const order = Array.from({ length: m }, (_, i) => (i * 7919) % 104729);
        expect(canonical(averageLinkageDense(m, edges, cut, order))).toEqual(canonical(averageLinkage(m, edges, cut, order)));
      }),
      { numRuns: 60 },
    );
  });

  it("merges a and b, then c whose average link to them reaches the cut, but not d", () => {
    // ab 0.95; ac 0.9, bc 0.8 → avg 0.85; ad 0.9 only → avg 0.3 with abc.
    const edges = toEdges([
      [0, 1, 0.95],
      [0, 2, 0.9],
      [1, 2, 0.8],
      [0, 3, 0.9],
    ]);
    expect(canonical(averageLinkage(4, edges, 0.85, [0, 1, 2, 3]))).toEqual([0, 0, 0, 3]);
  });
});
