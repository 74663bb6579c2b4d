/**
 * The screen of edgesAbove, shared by the one-thread and the worker-thread paths: a proven bound
 * drops almost every pair after looking at a prefix of the dimensions only, and the pairs it cannot
 * drop are recomputed in float32 exactly as dotF32 and the f32 kernel round them.
 *
 * The dimensions are ordered once, by their energy Σx_k² over a sample of the rows, so a prefix of
 * p dimensions holds most of it. For rows x, y split into that prefix and the rest,
 *   <x, y> = <x_p, y_p> + <x_r, y_r> ≤ <x_p, y_p> + |x_r||y_r| ≤ <x_p, y_p> + (|x_r|² + |y_r|²)/2
 * (Cauchy-Schwarz, then AM-GM, which makes the bound a sum of one term per row). The prefix is
 * stored as q = nearest(x·S) in int16 (one scale S; |x·S − q| ≤ E = ½ + 10⁻⁹, the float64 product's
 * rounding included) and the int16 kernel sums Q = Σ qa·qb exactly in int32, with
 * |Q − S²<x_p, y_p>| ≤ E|qa|₁ + E|qb|₁ + E²p. A float32 dot product reaches the floor only if the
 * real one reaches floor − δ, δ = (d/4 + 3)·2⁻²²·max|x|² (float32 rounding of a d-term sum). So a
 * pair can reach the floor only if
 *   Q + w_a + w_b ≥ T,  w = ⌈S²|x_r|²/2 + E|q|₁⌉ + 1 per row,  T = ⌊S²(floor − δ) − E²p⌋ − 1,
 * and every other pair is dropped without looking at the rest of its dimensions. The rest energy
 * |x_r|² = |x|² − |x_p|² comes from float64 sums of exact squares (relative error below 10⁻¹²; 10⁻⁹|x|²
 * is added). p is chosen per call, from the same sample: the cheapest of a few prefix lengths,
 * counting a surviving pair as the cost of about 4000 screened dimensions (its float32 recompute),
 * the kept share estimated on other sampled rows than those that ordered the dimensions.
 * Any p gives the same edges; it only changes the speed.
 */
import type { Kernel } from "./kernel.ts";

/** Rows per tile: a 128-row tile of int16 × 1280 is 320 KB, well inside a 1 MB L2 cache. */
export const TILE = 128;
/** Pairs recomputed per dotPairs call: at most one tile's. */
const PAIRS = TILE * TILE;
const E = 0.5 + 1e-9;
/** A surviving pair's float32 recompute (dotPairs, about 190 ns at d = 1280) costs about as much as screening this many dimensions of one pair. */
const RECOMPUTE = 4000;

/** Byte offsets inside the kernel memory, and the screen's threshold. */
export interface ScreenLayout {
  n: number;
  d: number;
  /** Prefix length in int16 values (multiple of 16), float32 row stride (multiple of 4), rows padded to a multiple of 4. */
  p: number;
  df: number;
  npad: number;
  /** The int16 prefixes (at 0, stride p·2), the float32 rows (stride df·4), one int32 w per row. */
  vecOff: number;
  wOff: number;
  /** Per thread: one TILE×TILE int32 tile, a pair buffer (PAIRS int32 pairs) and its PAIRS float32 results. */
  tileOff: number[];
  pairOff: number[];
  bytes: number;
  /** T: pairs with Q + w_a + w_b below it are dropped. */
  threshold: number;
}

type PrepKernel = Pick<Kernel, "memory" | "dotRow" | "gatherQuantize" | "reserve">;

/**
 * Copies the rows into the kernel memory (growing it), orders the dimensions, picks the prefix,
 * writes the int16 prefixes and the per-row terms, and returns the layout for scanTiles.
 */
export function prepareScreen(vectors: Float32Array, n: number, d: number, floor: number, kernel: PrepKernel, threads: number): ScreenLayout {
  const { order, p } = choosePrefix(vectors, n, d, floor);
  const df = (d + 3) & ~3;
  const npad = (n + 3) & ~3;
  const vecOff = npad * p * 2;
  const wOff = vecOff + npad * df * 4;
  const orderOff = wOff + npad * 4;
  const statsOff = (orderOff + p * 4 + 7) & ~7;
  let next = statsOff + 16;
  const tileOff: number[] = [];
  const pairOff: number[] = [];
  for (let t = 0; t < threads; t++) {
    tileOff.push(next);
    pairOff.push(next + TILE * TILE * 4);
    next += TILE * TILE * 4 + PAIRS * 12;
  }
  kernel.reserve(next);
  const buffer = kernel.memory.buffer;
  const vec = new Float32Array(buffer, vecOff, npad * df);
  if (df === d) vec.set(vectors.subarray(0, n * d));
  else for (let r = 0; r < n; r++) vec.set(vectors.subarray(r * d, r * d + d), r * df);
  if (df !== d) for (let r = 0; r < n; r++) vec.fill(0, r * df + d, r * df + df);
  vec.fill(0, n * df);

  // |x|² of every row, from the f32 kernel (dotRow(x, x)): a sum of d/4 + 2 rounded terms per lane
  // and the rounded squares, so the real value is below the computed one times 1 + (d/4 + 4)·2⁻²³.
  const norms = new Float64Array(n);
  let maxNorm2 = 0;
  const up = 1 + (d / 4 + 4) * 2 ** -23;
  for (let r = 0; r < n; r++) {
    const at = vecOff + r * df * 4;
    norms[r] = kernel.dotRow(at, at, df * 4) * up;
    maxNorm2 = Math.max(maxNorm2, norms[r]);
  }
  // One scale: |q| ≤ S·|x| + ½ ≤ 23001 fits int16, and |q|₂ ≤ S·|x| + E√p stays near 23000, so
  // every int32 sum below fits.
  const S = maxNorm2 > 0 ? 23000 / Math.sqrt(maxNorm2) : 0;
  const q = new Int16Array(buffer, 0, npad * p);
  q.fill(0);
  const w = new Int32Array(buffer, wOff, npad);
  w.fill(0);
  new Int32Array(buffer, orderOff, order.length).set(order);
  const stats = new Float64Array(buffer, statsOff, 2);
  let maxW = 0;
  for (let r = 0; r < n; r++) {
    // q = nearest(x·S) of the prefix, the product in float64; stats = [Σx² over the prefix, Σ|q|]
    kernel.gatherQuantize(vecOff + r * df * 4, orderOff, order.length, S, r * p * 2, statsOff);
    const rest = Math.max(0, norms[r] - stats[0]) + 1e-9 * norms[r]; // stats[0]: float64, error below 10⁻¹²
    w[r] = Math.ceil((S * S * rest) / 2 + E * stats[1]) + 1;
    maxW = Math.max(maxW, w[r]);
  }
  const delta = (d / 4 + 3) * 2 ** -22 * Math.max(1, maxNorm2);
  const threshold = Math.floor(S * S * (floor - delta) - E * E * p) - 1;
  // |Q| ≤ max|q|₂² ≤ (23000 + E√p)², so Q + w and T − w never leave int32.
  const maxQ2 = (23000 + E * Math.sqrt(p)) ** 2;
  if (!(maxQ2 + maxW + Math.abs(threshold) < 2 ** 31 - 8)) throw new Error(`screen: int32 range exceeded (${maxQ2}, ${maxW}, ${threshold})`);
  return { n, d, p, df, npad, vecOff, wOff, tileOff, pairOff, bytes: next, threshold };
}

/**
 * The dimensions by energy over a sample of rows (descending), cut to the prefix length p (a
 * multiple of 16, the int16 kernel's step) that minimises p + RECOMPUTE·(share of sampled pairs the
 * bound keeps), with the bound evaluated in float64 on up to 24 sampled rows (276 pairs).
 */
function choosePrefix(vectors: Float32Array, n: number, d: number, floor: number): { order: Int32Array; p: number } {
  const dmax = (d + 15) & ~15;
  const sample = Math.min(n, 64);
  const step = n / Math.max(1, sample);
  const energy = new Float64Array(d);
  for (let i = 0; i < sample; i++) {
    const base = Math.floor(i * step) * d;
    for (let k = 0; k < d; k++) energy[k] += vectors[base + k] * vectors[base + k];
  }
  const all = new Int32Array(d);
  for (let k = 0; k < d; k++) all[k] = k;
  all.sort((a, b) => energy[b] - energy[a] || a - b);
  const candidates: number[] = [];
  for (let c = 1; c <= 16; c++) {
    const p = Math.min(dmax, Math.max(16, (Math.round((c * dmax) / 16) + 15) & ~15));
    if (candidates[candidates.length - 1] !== p) candidates.push(p);
  }
  const nc = candidates.length;
  // Other rows than those that ordered the dimensions (when n allows), or the estimate flatters.
  const m = Math.min(n, 24);
  const mstep = n / Math.max(1, m);
  const rows = new Float64Array(m * d);
  const rest = new Float64Array(m * nc); // energy of sampled row i beyond candidate c
  for (let i = 0; i < m; i++) {
    const base = Math.min(n - 1, Math.floor((i + 0.5) * mstep) + (n >= 2 * sample ? 1 : 0)) * d;
    let total = 0;
    for (let k = 0; k < d; k++) {
      const x = vectors[base + all[k]];
      rows[i * d + k] = x;
      total += x * x;
    }
    let pre = 0;
    let k = 0;
    for (let c = 0; c < nc; c++) {
      for (const end = Math.min(candidates[c], d); k < end; k++) pre += rows[i * d + k] * rows[i * d + k];
      rest[i * nc + c] = total - pre;
    }
  }
  const kept = new Float64Array(nc);
  let pairs = 0;
  for (let a = 0; a < m; a++) {
    for (let b = a + 1; b < m; b++) {
      pairs++;
      let s = 0;
      let k = 0;
      for (let c = 0; c < nc; c++) {
        for (const end = Math.min(candidates[c], d); k < end; k++) s += rows[a * d + k] * rows[b * d + k];
        if (s + (rest[a * nc + c] + rest[b * nc + c]) / 2 >= floor) kept[c]++;
      }
    }
  }
  let best = nc - 1;
  let bestCost = Infinity;
  for (let c = 0; c < nc; c++) {
    const cost = candidates[c] + RECOMPUTE * (pairs > 0 ? kept[c] / pairs : 1);
    if (cost < bestCost) {
      bestCost = cost;
      best = c;
    }
  }
  const p = candidates[best];
  return { order: all.slice(0, Math.min(p, d)), p };
}

/** The upper-triangle tiles (ti, tj), tj ≥ ti, as a flat list of row offsets. */
export function tileList(npad: number): number[] {
  const tiles: number[] = [];
  for (let ti = 0; ti < npad; ti += TILE) for (let tj = ti; tj < npad; tj += TILE) tiles.push(ti, tj);
  return tiles;
}

/**
 * Screens the given tiles and returns the pairs that reach the floor, with their float32 value.
 * Self-contained (no outer references, no inner functions, which a bundler may wrap in helpers; the
 * tile and pair buffer sizes are passed in), so parallel.ts can ship its source to worker threads.
 */
export function scanTiles(
  k: Pick<Kernel, "blockI16" | "scanGe" | "dotPairs" | "memory">, l: ScreenLayout, thread: number,
  tiles: ArrayLike<number>, floor: number, tileRows: number, pairCap: number,
): { a: number[]; b: number[]; s: number[] } {
  const { n, p, npad, threshold } = l;
  const rowBytes = p * 2;
  const tileOff = l.tileOff[thread];
  const pairOff = l.pairOff[thread];
  const resOff = pairOff + pairCap * 8;
  const tile = new Int32Array(k.memory.buffer, tileOff, tileRows * tileRows);
  const w = new Int32Array(k.memory.buffer, l.wOff, npad);
  const pairs = new Int32Array(k.memory.buffer, pairOff, pairCap * 2);
  const res = new Float32Array(k.memory.buffer, resOff, pairCap);
  const out = { a: [] as number[], b: [] as number[], s: [] as number[] };
  for (let t = 0; t < tiles.length; t += 2) {
    const ti = tiles[t];
    const tj = tiles[t + 1];
    const na = Math.min(tileRows, npad - ti);
    const nb = Math.min(tileRows, npad - tj);
    k.blockI16(ti * rowBytes, na, tj * rowBytes, nb, p, tileOff, nb);
    const colOff = l.wOff + tj * 4;
    const iEnd = Math.min(na, n - ti);
    let count = 0;
    for (let i = 0; i < iEnd; i++) {
      const a = ti + i;
      const rowT = threshold - w[a];
      const row = i * nb;
      const rowOff = tileOff + row * 4;
      const from = ti === tj ? (i + 1) & ~3 : 0;
      for (let g = k.scanGe(rowOff, colOff, from, nb, rowT); g < nb; g = k.scanGe(rowOff, colOff, g + 4, nb, rowT)) {
        for (let j = g; j < g + 4; j++) {
          const b = tj + j;
          if (b <= a || b >= n || tile[row + j] + w[b] < rowT) continue;
          pairs[2 * count] = a;
          pairs[2 * count + 1] = b;
          count++;
        }
      }
    }
    // The tile's survivors, four at a time (padded with copies of the first).
    if (count === 0) continue;
    const padded = (count + 3) & ~3;
    for (let i = count; i < padded; i++) {
      pairs[2 * i] = pairs[0];
      pairs[2 * i + 1] = pairs[1];
    }
    k.dotPairs(pairOff, padded, l.vecOff, l.df * 4, resOff);
    for (let i = 0; i < count; i++) {
      if (res[i] >= floor) {
        out.a.push(pairs[2 * i]);
        out.b.push(pairs[2 * i + 1]);
        out.s.push(res[i]);
      }
    }
  }
  return out;
}

/** Pair buffer size for scanTiles. */
export const PAIR_CAPACITY = PAIRS;
