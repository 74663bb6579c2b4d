/**
 * Seeded synthetic embeddings for tests and benchmarks: unit vectors scattered around random
 * group centres (near-duplicate bursts, as a phone camera makes), plus unrelated singletons.
 */
import { normalizeRows } from "./normalize.ts";

/** mulberry32: a small, fast, seeded PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal sample (Box–Muller). */
export function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

export interface SyntheticOptions {
  n: number;
  d: number;
  seed?: number;
  /** Group sizes are drawn uniformly from [min, max]. */
  groupSize?: [number, number];
  /** Fraction of images that belong to no group. */
  singletons?: number;
  /** Typical cosine between two members of a group (each group varies around it). */
  groupCosine?: number;
}

/** Row-major n×d unit vectors and the group of each row (-1 for a singleton). */
export function clusteredVectors(o: SyntheticOptions): { vectors: Float32Array; labels: Int32Array } {
  const { n, d } = o;
  const rand = prng(o.seed ?? 1);
  const [gMin, gMax] = o.groupSize ?? [2, 8];
  const singletons = o.singletons ?? 0.25;
  const cos = o.groupCosine ?? 0.9;
  const vectors = new Float32Array(n * d);
  const labels = new Int32Array(n).fill(-1);
  const centre = new Float64Array(d);
  let row = 0;
  let group = 0;
  while (row < n) {
    const size = rand() < singletons ? 1 : Math.min(n - row, gMin + Math.floor(rand() * (gMax - gMin + 1)));
    for (let k = 0; k < d; k++) centre[k] = gaussian(rand);
    const cn = Math.hypot(...centre);
    // Members are centre/|centre| + noise with |noise|² = 1/c - 1, so two members meet at about c.
    const c = Math.min(0.99, Math.max(0.3, cos + (rand() - 0.5) * 0.12));
    const sigma = Math.sqrt((1 / c - 1) / d);
    for (let m = 0; m < size; m++, row++) {
      for (let k = 0; k < d; k++) vectors[row * d + k] = centre[k] / cn + sigma * gaussian(rand);
      if (size > 1) labels[row] = group;
    }
    group++;
  }
  return { vectors: normalizeRows(vectors, n, d), labels };
}

/**
 * A neighbour graph shaped like a photo library's, without computing n² dot products: groups
 * of 2–8 near-duplicates (75% of images) whose pairs sit around 0.9 (those under the floor are
 * absent), plus `noise` chance edges per image to unrelated images just above the floor.
 */
export function clusteredEdges(o: { n: number; floor: number; seed?: number; noise?: number }): { a: Uint32Array; b: Uint32Array; s: Float32Array } {
  const rand = prng(o.seed ?? 1);
  const pairs: Array<[number, number, number]> = [];
  let row = 0;
  while (row < o.n) {
    const size = rand() < 0.25 ? 1 : Math.min(o.n - row, 2 + Math.floor(rand() * 7));
    const centre = 0.84 + rand() * 0.12;
    for (let i = row; i < row + size; i++) {
      for (let j = i + 1; j < row + size; j++) {
        const s = Math.min(1, centre + 0.03 * gaussian(rand));
        if (s >= o.floor) pairs.push([i, j, s]);
      }
    }
    row += size;
  }
  const chance = Math.round(o.n * (o.noise ?? 0.5));
  const seen = new Set(pairs.map(([a, b]) => a * o.n + b));
  for (let k = 0; k < chance; k++) {
    const x = Math.floor(rand() * o.n);
    const y = Math.floor(rand() * o.n);
    const [a, b] = x < y ? [x, y] : [y, x];
    if (a === b || seen.has(a * o.n + b)) continue;
    seen.add(a * o.n + b);
    pairs.push([a, b, o.floor + rand() * 0.1]);
  }
  pairs.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  return {
    a: Uint32Array.from(pairs, (p) => p[0]),
    b: Uint32Array.from(pairs, (p) => p[1]),
    s: Float32Array.from(pairs, (p) => p[2]),
  };
}
