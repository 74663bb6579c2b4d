import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dotAgainstAll, dotF32 } from "./dot.ts";
import { edgesAbove, edgesForCut, sortEdges, withinComponents } from "./edges.ts";
import { TooManyPairsError } from "../errors.ts";
import { sharedKernel } from "./kernel.ts";
import { normalizeRows } from "./normalize.ts";
import { PAIR_CAPACITY, prepareScreen, scanTiles, TILE, tileList } from "./screen.ts";
import { clusteredVectors, gaussian, prng } from "./synthetic.ts";

function randomMatrix(n: number, d: number, seed: number, zeroRows: number[] = []): Float32Array {
  const rand = prng(seed);
  const v = new Float32Array(n * d);
  for (let i = 0; i < v.length; i++) v[i] = gaussian(rand);
  for (const r of zeroRows) v.fill(0, r * d, r * d + d);
  return normalizeRows(v, n, d);
}

/** Reference dot product in double precision, the obvious way. */
function naiveDot(v: Float32Array, i: number, j: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) s += v[i * d + k] * v[j * d + k];
  return s;
}

describe("the WASM kernel", () => {
  it("computes a 2×4 tile like the naive dot product", () => {
    // Prepare
    const kernel = sharedKernel();
    const dp = 16;
    kernel.reserve(1 << 16);
    const mem = new Float32Array(kernel.memory.buffer);
    const rand = prng(7);
    for (let i = 0; i < 6 * dp; i++) mem[i] = rand() * 2 - 1;
    // Act
    kernel.block(0, 2, 2 * dp * 4, 4, dp, 8192, 4);
    // Assess
    const out = new Float32Array(kernel.memory.buffer, 8192, 8);
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 4; j++) {
        expect(out[i * 4 + j]).toBe(dotF32(mem, i * dp, mem, (2 + j) * dp, dp));
        expect(out[i * 4 + j]).toBeCloseTo(naiveDot(mem, i, 2 + j, dp), 5);
      }
    }
  });
});

describe("the packed int16 kernel", () => {
  it("gathers rows into panels of four and multiplies any tile of them like the plain integer dot product (property)", () => {
    const kernel = sharedKernel();
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }), // panels of four rows
        fc.integer({ min: 1, max: 6 }), // p / 8
        fc.integer({ min: 0, max: 16 }), // source columns beyond p
        fc.integer({ min: 1, max: 2 ** 30 }),
        fc.nat(),
        (panels, p8, extra, seed, pick) => {
          // Prepare: int16 rows, a random order of their columns, a tile from panel starts: pairs of rows by fours of rows.
          const n = 4 * panels;
          const p = 8 * p8;
          const len = (p + extra + 7) & ~7;
          const rand = prng(seed);
          kernel.reserve(1 << 20);
          const src = new Int16Array(kernel.memory.buffer, 0, n * len);
          for (let i = 0; i < src.length; i++) src[i] = Math.round((rand() * 2 - 1) * 4000); // every sum stays in int32
          const order = new Int32Array(kernel.memory.buffer, 65536, len);
          order.set(Array.from({ length: len }, (_, k) => k).sort(() => rand() - 0.5));
          const ai = 4 * (pick % panels);
          const na = 2 * (1 + ((pick >> 4) % ((n - ai) / 2)));
          const bi = 4 * ((pick >> 8) % panels);
          const nb = 4 * (1 + ((pick >> 12) % ((n - bi) / 4)));
          // Act
          kernel.gather16Packed(0, len * 2, 65536, p, n, 131072, p * 2);
          kernel.blockI16(131072 + ai * p * 2, na, 131072 + bi * p * 2, nb, p, 262144, nb);
          // Assess
          const out = new Int32Array(kernel.memory.buffer, 262144, na * nb);
          for (let i = 0; i < na; i++) {
            for (let j = 0; j < nb; j++) {
              let q = 0;
              for (let k = 0; k < p; k++) q += src[(ai + i) * len + order[k]] * src[(bi + j) * len + order[k]];
              expect(out[i * nb + j]).toBe(q);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("quantizeRows and gather16", () => {
  it("round x·s to the nearest int16 (ties to even), sum |q| and the masked energy, and gather by an order", () => {
    // Prepare
    const kernel = sharedKernel();
    const n = 3;
    const len = 24;
    kernel.reserve(1 << 16);
    const src = new Float32Array(kernel.memory.buffer, 0, n * len);
    const rand = prng(11);
    for (let i = 0; i < src.length; i++) src[i] = rand() * 2 - 1;
    src[5] = 2.5 / 1000; // exactly between two integers after the scale: rounds to even
    src[6] = -3.5 / 1000;
    const s = 1000;
    const mask = new Float32Array(kernel.memory.buffer, 4096, len);
    for (let k = 0; k < len; k++) mask[k] = k % 3 === 0 ? 1 : 0;
    const order = new Int32Array(kernel.memory.buffer, 8192, 5);
    order.set([7, 0, 23, 12, 7]);
    // Act
    kernel.quantizeRows(0, n, len * 4, s, 4096, 12288, len * 2, len, 16384, 16400);
    kernel.gather16(12288, len * 2, 8192, 5, n, 20480, 10);
    // Assess
    const q = new Int16Array(kernel.memory.buffer, 12288, n * len);
    const l1 = new Int32Array(kernel.memory.buffer, 16384, n);
    const pre = new Float32Array(kernel.memory.buffer, 16400, n);
    const gathered = new Int16Array(kernel.memory.buffer, 20480, n * 5);
    const evenRound = (y: number) => (Math.abs(y % 1) === 0.5 ? 2 * Math.round(y / 2) : Math.round(y));
    expect([q[5], q[6]]).toEqual([2, -4]);
    for (let r = 0; r < n; r++) {
      let sum = 0;
      let energy = 0;
      for (let k = 0; k < len; k++) {
        const x = src[r * len + k];
        expect(q[r * len + k]).toBe(evenRound(Math.fround(x * s)));
        sum += Math.abs(q[r * len + k]);
        energy += x * x * mask[k];
      }
      expect(l1[r]).toBe(sum);
      expect(pre[r]).toBeCloseTo(energy, 6);
      for (let k = 0; k < 5; k++) expect(gathered[r * 5 + k]).toBe(q[r * len + order[k]]);
    }
  });
});

describe("dotPairs", () => {
  it("rounds each pair exactly as dotF32", () => {
    const kernel = sharedKernel();
    const d = 36;
    const v = randomMatrix(10, d, 9, [4]);
    kernel.reserve(1 << 16);
    new Float32Array(kernel.memory.buffer, 0, v.length).set(v);
    const pairs = [
      [0, 1],
      [9, 3],
      [4, 4],
      [2, 2],
      [7, 0],
      [5, 8],
      [1, 1],
      [3, 6],
    ];
    new Int32Array(kernel.memory.buffer, 32768, 16).set(pairs.flat());
    kernel.dotPairs(32768, 8, 0, d * 4, 40000);
    const out = new Float32Array(kernel.memory.buffer, 40000, 8);
    for (const [i, [a, b]] of pairs.entries()) expect(Object.is(out[i], dotF32(v, a * d, v, b * d, d))).toBe(true);
  });
});

describe("edgesAbove", () => {
  const shapes: Array<[number, number]> = [
    [0, 8],
    [1, 8],
    [2, 1],
    [3, 3],
    [5, 5],
    [17, 7],
    [130, 13],
    [257, 33],
    [300, 1280],
  ];
  it.each(shapes)("finds exactly the pairs at or above the floor (n=%i, d=%i)", (n, d) => {
    // Prepare
    const v = randomMatrix(n, d, n * 31 + d, n > 4 ? [1, n - 1] : []);
    const floor = d < 8 ? 0.5 : d < 100 ? 0.2 : 0.05;
    // Act
    const e = edgesAbove(v, n, d, floor);
    // Assess
    const got = new Map<string, number>();
    for (let k = 0; k < e.a.length; k++) {
      expect(e.a[k]).toBeLessThan(e.b[k]);
      got.set(`${e.a[k]},${e.b[k]}`, e.s[k]);
    }
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const ref = naiveDot(v, i, j, d);
        const s = got.get(`${i},${j}`);
        if (s !== undefined) {
          expect(s).toBe(dotF32(v, i * d, v, j * d, d));
          expect(Math.abs(s - ref)).toBeLessThan(1e-5);
        }
        if (Math.abs(ref - floor) > 1e-5) expect(s !== undefined).toBe(ref >= floor);
      }
    }
  });

  it.each([
    [300, 1280, 0.05],
    [257, 33, 0.3],
    [64, 2048, 0.02],
    [130, 5, 0.9],
  ])("screens with int16 to the very edges the float32 kernel finds (n=%i, d=%i)", (n, d, floor) => {
    const v = randomMatrix(n, d, n + d, [2]);
    // Near-duplicates put pairs on both sides of the floor, close to it.
    for (let r = 1; r < n; r += 3) for (let k = 0; k < d; k++) v[r * d + k] = v[(r - 1) * d + k] + 0.02 * Math.sin(r * k);
    normalizeRows(v, n, d);
    expect(edgesAbove(v, n, d, floor, { kernel: "i16" })).toEqual(edgesAbove(v, n, d, floor, { kernel: "f32" }));
  });

  // The screen looks at a prefix of the dimensions ordered by energy and bounds the rest: data whose
  // energy sits in few dimensions, and non-negative data with a large common mean (like ReLU image
  // embeddings), with pairs on both sides of the floor and close to it.
  it.each([
    ["decaying energy", 400, 256],
    ["non-negative, large common mean", 300, 1280],
    ["a few hot dimensions", 260, 96],
  ] as const)("screens %s to the very edges the float32 kernel finds, a pair exactly at the floor included", (shape, n, d) => {
    const rand = prng(n * d);
    const v = new Float32Array(n * d);
    for (let r = 0; r < n; r++) {
      for (let k = 0; k < d; k++) {
        const g = gaussian(rand);
        v[r * d + k] =
          shape === "decaying energy"
            ? g * Math.exp(-k / 20)
            : shape === "non-negative, large common mean"
              ? Math.abs(g) * (1 + (k % 7))
              : g * (k < 4 ? 10 : 1);
      }
    }
    // Near-duplicates at many distances: pairs on both sides of any floor.
    for (let r = 1; r < n; r += 2) for (let k = 0; k < d; k++) v[r * d + k] = v[(r - 1) * d + k] + ((r % 17) / 12) * v[r * d + k];
    normalizeRows(v, n, d);
    const spread = edgesAbove(v, n, d, 0.3, { kernel: "f32" }).s.slice().sort();
    const floor = spread[Math.floor(spread.length * 0.6)];
    const exact = edgesAbove(v, n, d, floor, { kernel: "f32" });
    expect(exact.a.length).toBeGreaterThan(n / 20);
    expect(Array.from(exact.s)).toContain(floor);
    expect(edgesAbove(v, n, d, floor)).toEqual(exact);
  });

  it("screens any small matrix to the f32 kernel's edges, at a floor equal to one of its values (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 40 }),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 2 ** 30 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (n, d, seed, pick) => {
          const rand = prng(seed);
          const decay = rand() * 0.2;
          const v = new Float32Array(n * d);
          for (let r = 0; r < n; r++) for (let k = 0; k < d; k++) v[r * d + k] = (r % 3 === 1 ? v[(r - 1) * d + k] : 0) + gaussian(rand) * Math.exp(-k * decay);
          normalizeRows(v, n, d);
          const all = edgesAbove(v, n, d, 1e-6, { kernel: "f32" }).s;
          const floor = all.length > 0 ? Math.max(1e-6, all[Math.floor(pick * (all.length - 1))]) : 0.5;
          expect(edgesAbove(v, n, d, floor)).toEqual(edgesAbove(v, n, d, floor, { kernel: "f32" }));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("bounds a survivor of a shorter prefix by its int16 dot over all dimensions, to the float32 kernel's edges", () => {
    // Prepare: clusters of near-duplicates whose energy the prefix cannot hold alone.
    const n = 300;
    const d = 1280;
    const { vectors } = clusteredVectors({ n, d, seed: 5, groupCosine: 0.7 });
    const kernel = sharedKernel();
    // Act
    const layout = prepareScreen(vectors, n, d, 0.6, kernel, 1);
    const found = scanTiles(kernel, layout, 0, tileList(layout.npad), 0.6, TILE, PAIR_CAPACITY);
    // Assess
    expect(layout.twoStage).toBe(true);
    expect(layout.p).toBeLessThan(d);
    const exact = edgesAbove(vectors, n, d, 0.6, { kernel: "f32" });
    expect(found.a.length).toBe(exact.a.length);
    expect(edgesAbove(vectors, n, d, 0.6)).toEqual(exact);
  });

  it("returns pairs sorted by (a, b)", () => {
    const v = randomMatrix(200, 4, 3);
    const e = edgesAbove(v, 200, 4, 0.3);
    for (let k = 1; k < e.a.length; k++) expect(e.a[k - 1] < e.a[k] || (e.a[k - 1] === e.a[k] && e.b[k - 1] < e.b[k])).toBe(true);
  });

  it("sorts pairs that arrive in any order by (a, b), each with its own value", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(fc.nat(60), fc.nat(60)), { selector: ([a, b]) => `${a},${b}`, maxLength: 300 }), (pairs) => {
        const e = { a: Uint32Array.from(pairs, (p) => p[0]), b: Uint32Array.from(pairs, (p) => p[1]), s: Float32Array.from(pairs, (p) => p[0] * 100 + p[1]) };
        const sorted = sortEdges(e);
        const expected = [...pairs].sort((x, y) => x[0] - y[0] || x[1] - y[1]);
        expect(Array.from(sorted.a)).toEqual(expected.map((p) => p[0]));
        expect(Array.from(sorted.b)).toEqual(expected.map((p) => p[1]));
        expect(Array.from(sorted.s)).toEqual(expected.map((p) => p[0] * 100 + p[1]));
      }),
    );
  });

  it("never links a zero vector, and never yields NaN", () => {
    const v = randomMatrix(9, 5, 5, [0, 4]);
    const e = edgesAbove(v, 9, 5, 1e-6);
    for (let k = 0; k < e.a.length; k++) {
      expect([0, 4]).not.toContain(e.a[k]);
      expect([0, 4]).not.toContain(e.b[k]);
      expect(Number.isNaN(e.s[k])).toBe(false);
    }
  });

  it("rejects a floor outside (0, 1] and a matrix too small for its shape", () => {
    expect(() => edgesAbove(new Float32Array(8), 2, 4, 0)).toThrow(/floor/);
    expect(() => edgesAbove(new Float32Array(7), 2, 4, 0.5)).toThrow(/expected 2×4/);
  });
});

describe("edgesForCut", () => {
  it("keeps every pair above the floor inside the components above the cut, and nothing across them", () => {
    // Prepare
    const n = 500;
    const d = 64;
    const { vectors } = clusteredVectors({ n, d, seed: 8, groupCosine: 0.8, groupSize: [2, 12] });
    const all = edgesAbove(vectors, n, d, 0.5);
    // Act
    const cut = edgesForCut(vectors, n, d, 0.5, 0.8);
    // Assess: exactly the pairs of `all` whose ends are joined by a chain of pairs ≥ 0.8.
    const root = Array.from({ length: n }, (_, i) => i);
    const find = (x: number): number => {
      if (root[x] !== x) root[x] = find(root[x]);
      return root[x];
    };
    for (let e = 0; e < all.a.length; e++) if (all.s[e] >= 0.8) root[find(all.a[e])] = find(all.b[e]);
    const keep = Array.from(all.a, (a, e) => find(a) === find(all.b[e]));
    expect(Array.from(cut.a)).toEqual(Array.from(all.a).filter((_, e) => keep[e]));
    expect(Array.from(cut.b)).toEqual(Array.from(all.b).filter((_, e) => keep[e]));
    expect(Array.from(cut.s)).toEqual(Array.from(all.s).filter((_, e) => keep[e]));
    expect(cut.a.length).toBeLessThan(all.a.length);
    expect(cut.a.length).toBeGreaterThan(n / 4);
  });

  it("gives up on components that hold more than an eighth of all pairs", () => {
    const n = 200;
    const d = 32;
    const v = randomMatrix(n, d, 3);
    // One chain of near-duplicates: pairs on both sides of the cut, all joined through pairs above it.
    for (let r = 1; r < n; r++) for (let k = 0; k < d; k++) v[r * d + k] = v[k] + 0.33 * v[r * d + k];
    normalizeRows(v, n, d);
    const kernel = sharedKernel();
    const layout = prepareScreen(v, n, d, 0.9, kernel, 1);
    const found = scanTiles(kernel, layout, 0, tileList(layout.npad), 0.9, TILE, PAIR_CAPACITY);
    expect(withinComponents(kernel, layout, found, 0.5)).toBeUndefined();
    expect(edgesForCut(v, n, d, 0.5, 0.9)).toEqual(edgesAbove(v, n, d, 0.5));
  });
});

describe("dotAgainstAll", () => {
  it.each([
    [40, 77],
    [41, 128],
    [6, 12],
  ])("matches the exact path's similarities bit for bit (n=%i, d=%i)", (n, d) => {
    const v = randomMatrix(n, d, 11, [3]);
    const out = dotAgainstAll(v, n, d, v.subarray(5 * d, 6 * d), new Float32Array(n));
    const e = edgesAbove(v, n, d, 1e-9);
    for (let k = 0; k < e.a.length; k++) {
      if (e.a[k] === 5) expect(out[e.b[k]]).toBe(e.s[k]);
      if (e.b[k] === 5) expect(out[e.a[k]]).toBe(e.s[k]);
    }
    for (let r = 0; r < n; r++) expect(Object.is(out[r], dotF32(v, r * d, v, 5 * d, d))).toBe(true);
    expect(out[3]).toBe(0);
    for (let r = 0; r < n; r++) expect(Math.abs(out[r] - naiveDot(v, r, 5, d))).toBeLessThan(1e-5);
  });

  it("keeps its contract checks", () => {
    expect(() => dotAgainstAll(new Float32Array(8), 2, 4, new Float32Array(3), new Float32Array(2))).toThrow(RangeError);
  });
});

describe("edgesAbove with a pair limit", () => {
  it.each(["i16", "f32"] as const)("returns every pair up to the limit and refuses one more (%s kernel)", (kernel) => {
    // Prepare: 300 rows in tight groups, so hundreds of pairs pass the floor
    const { vectors } = clusteredVectors({ n: 300, d: 64, seed: 11, singletons: 0 });
    const all = edgesAbove(vectors, 300, 64, 0.5, { kernel });
    expect(all.a.length).toBeGreaterThan(500);
    // Act
    const atLimit = edgesAbove(vectors, 300, 64, 0.5, { kernel, maxPairs: all.a.length });
    const refuse = () => edgesAbove(vectors, 300, 64, 0.5, { kernel, maxPairs: all.a.length - 1 });
    // Assess
    expect(atLimit).toEqual(all);
    expect(refuse).toThrow(TooManyPairsError);
    expect(refuse).toThrow(`more than ${all.a.length - 1} pairs`);
  });

  it("refuses through edgesForCut when the cut's components hold more pairs than the limit", () => {
    const { vectors } = clusteredVectors({ n: 300, d: 64, seed: 12, singletons: 0 });
    const all = edgesForCut(vectors, 300, 64, 0.5, 0.8);
    expect(edgesForCut(vectors, 300, 64, 0.5, 0.8, { maxPairs: all.a.length })).toEqual(all);
    expect(() => edgesForCut(vectors, 300, 64, 0.5, 0.8, { maxPairs: all.a.length - 1 })).toThrow(TooManyPairsError);
  });
});
