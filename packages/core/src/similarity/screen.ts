/**
 * The screen of edgesAbove, shared by the one-thread and the worker-thread paths: a proven bound
 * drops almost every pair after looking at a prefix of the dimensions only, the pairs it cannot
 * drop get a tighter bound from their int16 dot over all dimensions (the tile's prefix dot plus
 * their dot over the rest, the only part computed again), and the few left are
 * recomputed in float32 exactly as dotF32 and the f32 kernel round them.
 *
 * The dimensions are ordered once, by their energy Σx_k² over a sample of the rows, so a prefix of
 * p dimensions holds most of it. For rows x, y split into that prefix and the rest,
 *   <x, y> = <x_p, y_p> + <x_r, y_r> ≤ <x_p, y_p> + |x_r||y_r| ≤ <x_p, y_p> + (|x_r|² + |y_r|²)/2
 * (Cauchy-Schwarz, then AM-GM, which makes the bound a sum of one term per row). Rows are stored
 * as q = nearest(fl32(x·S)) in int16 (one float32 scale S; |x·S − q| ≤ E = ½ + 2⁻⁹, the float32
 * product's rounding included) and the int16 kernels sum Q = Σ qa·qb exactly in int32, with
 * |Q − S²<x, y>| ≤ E|qa|₁ + E|qb|₁ + E²d over any set of d dimensions. A float32 dot product
 * reaches the floor only if the real one reaches floor − δ, δ = (d/4 + 3)·2⁻²²·max|x|² (float32
 * rounding of a d-term sum). So a pair can reach the floor only if, over the prefix,
 *   Q_p + w_a + w_b ≥ T,  w = ⌈S²|x_r|²/2 + E|q|₁⌉ + 1 per row,  T = ⌊S²(floor − δ) − E²p⌋ − 1,
 * and, over all dimensions,
 *   Q + v_a + v_b ≥ T2,   v = ⌈E|q|₁⌉ + 1 per row,              T2 = ⌊S²(floor − δ) − E²d⌋ − 1
 * (|q|₁ over all dimensions, which bounds the prefix's). Every other pair is dropped. The rest
 * energy |x_r|² = |x|² − |x_p|² takes |x|² from above and |x_p|² from below, each a float32 sum of
 * non-negative terms with its rounding bound (10⁻⁹|x|² is added). p is chosen per call, from the
 * same sample: the cheapest of a few prefix lengths, counting a surviving pair at its measured cost
 * (SURVIVOR_COST, REST_COST), the kept share estimated on other sampled rows than those that
 * ordered the dimensions. Any p gives the same edges; it only changes the speed.
 */
import type { Kernel } from "./kernel.ts";

/** Rows per tile: a 128-row tile of int16 × 1280 is 320 KB, well inside a 1 MB L2 cache. */
export const TILE = 128;
/** Pairs recomputed per dotPairs call: at most one tile's. */
const PAIRS = TILE * TILE;
/** |q − x·S| ≤ E: ½ from the rounding to an integer, 2⁻⁹ > 23001·2⁻²⁴ from the float32 product. */
const E = 0.5 + 2 ** -9;
/**
 * What a pair that passes the prefix screen costs, in screened prefix dimensions (blockI16: 0.029 ns
 * per pair and dimension): SURVIVOR_COST to collect it, plus REST_COST per dimension for its int16
 * dot over the d − p others (dotPairsI16 on gathered rows). Fitted at n = 2000, d = 1280 on real
 * and synthetic embeddings.
 */
const SURVIVOR_COST = 2000;
const REST_COST = 4;

/** Byte offsets inside the kernel memory, and the screen's thresholds. */
export interface ScreenLayout {
  n: number;
  d: number;
  /** Prefix length in int16 values (multiple of 16); row stride of the full int16 and the float32 rows (multiple of 8); rows padded to a multiple of 4. */
  p: number;
  df: number;
  npad: number;
  /** Whether the prefix is shorter than the rows, so survivors get the int16 dot over the rest before the float32 one. */
  twoStage: boolean;
  /** The int16 rest dimensions p..d in the prefix's order, zero-padded to a multiple of 8 values: restBytes per row. */
  restBytes: number;
  /**
   * The int16 prefixes (at 0, p values a row, in blockI16's panels of four rows), the full int16 rows (stride df·2), their rest dimensions
   * (stride restBytes), the float32 rows (stride df·4), one int32 w and one int32 v per row.
   */
  qOff: number;
  restOff: number;
  vecOff: number;
  wOff: number;
  vOff: number;
  /** The next tile to scan, an int32 every scanning thread takes tiles from (Atomics.add). */
  counterOff: number;
  /** Per thread: one TILE×TILE int32 tile, a pair buffer (PAIRS int32 pairs), its PAIRS results (int32 or float32) and the pairs' PAIRS prefix dots. */
  tileOff: number[];
  pairOff: number[];
  bytes: number;
  /** T: pairs with Q_prefix + w_a + w_b below it are dropped. */
  threshold: number;
  /** T2: pairs with Q + v_a + v_b below it (Q over all dimensions) are dropped. */
  threshold2: number;
}

type PrepKernel = Pick<Kernel, "memory" | "dotRow" | "quantizeRows" | "gather16" | "gather16Packed" | "reserve">;

/**
 * Copies the rows into the kernel memory (growing it), orders the dimensions, picks the prefix,
 * writes the int16 rows and prefixes and the per-row terms, and returns the layout for scanTiles.
 */
export function prepareScreen(vectors: Float32Array, n: number, d: number, floor: number, kernel: PrepKernel, threads: number): ScreenLayout {
  const { order, p } = choosePrefix(vectors, n, d, floor);
  const df = (d + 7) & ~7;
  const npad = (n + 3) & ~3;
  const restBytes = p < d ? ((d - p + 7) & ~7) * 2 : 0;
  const qOff = npad * p * 2;
  const restOff = qOff + npad * df * 2;
  const vecOff = (restOff + npad * restBytes + 15) & ~15;
  const wOff = vecOff + npad * df * 4;
  const vOff = wOff + npad * 4;
  const orderOff = vOff + npad * 4;
  const maskOff = (orderOff + d * 4 + 15) & ~15;
  const l1Off = maskOff + df * 4;
  const preOff = l1Off + npad * 4;
  const counterOff = preOff + npad * 4;
  let next = counterOff + 16;
  const tileOff: number[] = [];
  const pairOff: number[] = [];
  for (let t = 0; t < threads; t++) {
    tileOff.push(next);
    pairOff.push(next + TILE * TILE * 4);
    next += TILE * TILE * 4 + PAIRS * 16;
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
  // One float32 scale: |q| ≤ S·|x| + E ≤ 23001 fits int16, and |q|₂ ≤ S·|x| + E√d stays near 23000,
  // so every int32 sum below fits.
  const S = maxNorm2 > 0 ? Math.fround(23000 / Math.sqrt(maxNorm2)) : 0;
  // The kernels below write every value of rows < n; only what they leave (pad rows, the prefix's
  // columns past d, the rest's padding to a multiple of 8) is zeroed, not the whole 10 MB at n = 2000:
  // at n = 2000 real embeddings, 3.6 of the call's 12 ms of preparation went on zeroing.
  if (p > d) new Int16Array(buffer, 0, npad * p).fill(0);
  else new Int16Array(buffer, (npad - 4) * p * 2, 4 * p).fill(0); // the last panel of four rows, whole
  new Int16Array(buffer, qOff + n * df * 2, (npad - n) * df).fill(0);
  const restRow = restBytes / 2;
  if (p < d) {
    const rest = new Int16Array(buffer, restOff, npad * restRow);
    if (restRow > d - p) for (let r = 0; r < n; r++) rest.fill(0, r * restRow + d - p, (r + 1) * restRow);
    rest.fill(0, n * restRow);
  }
  new Int32Array(buffer, orderOff, d).set(order);
  const mask = new Float32Array(buffer, maskOff, df).fill(0);
  for (let k = 0; k < Math.min(p, d); k++) mask[order[k]] = 1;
  // The full int16 rows with Σ|q| and the prefix energy Σx² (float32, d/4 + 2 rounded non-negative
  // terms per lane: the real value is above the computed one times 1 − (d/4 + 4)·2⁻²³), then the prefixes.
  kernel.quantizeRows(vecOff, n, df * 4, S, maskOff, qOff, df * 2, df, l1Off, preOff);
  kernel.gather16Packed(qOff, df * 2, orderOff, Math.min(p, d), n, 0, p * 2);
  if (p < d) kernel.gather16(qOff, df * 2, orderOff + p * 4, d - p, n, restOff, restBytes);
  const w = new Int32Array(buffer, wOff, npad).fill(0);
  const v = new Int32Array(buffer, vOff, npad).fill(0);
  const l1 = new Int32Array(buffer, l1Off, n);
  const pre = new Float32Array(buffer, preOff, n);
  const down = 1 - (d / 4 + 4) * 2 ** -23;
  let maxW = 0;
  for (let r = 0; r < n; r++) {
    const rest = Math.max(0, norms[r] - pre[r] * down) + 1e-9 * norms[r];
    // Σ|q| over all dimensions bounds the prefix's: a slightly looser w, with no second sum.
    w[r] = Math.ceil((S * S * rest) / 2 + E * l1[r]) + 1;
    v[r] = Math.ceil(E * l1[r]) + 1;
    maxW = Math.max(maxW, w[r]);
  }
  const delta = (d / 4 + 3) * 2 ** -22 * Math.max(1, maxNorm2);
  const threshold = Math.floor(S * S * (floor - delta) - E * E * p) - 1;
  const threshold2 = Math.floor(S * S * (floor - delta) - E * E * d) - 1;
  // |Q| ≤ max|q|₂² ≤ (23000 + E√d)², so Q + w and T − w never leave int32.
  const maxQ2 = (23000 + E * Math.sqrt(d)) ** 2;
  if (!(maxQ2 + maxW + Math.abs(threshold) < 2 ** 31 - 8)) throw new Error(`screen: int32 range exceeded (${maxQ2}, ${maxW}, ${threshold})`);
  new Int32Array(buffer, counterOff, 1)[0] = 0;
  return { n, d, p, df, npad, twoStage: p < d, restBytes, qOff, restOff, vecOff, wOff, vOff, counterOff, tileOff, pairOff, bytes: next, threshold, threshold2 };
}

/**
 * The dimensions by energy over a sample of rows (descending), and the prefix length p (a
 * multiple of 16) that minimises p + (SURVIVOR_COST + REST_COST·(d − p))·(share of sampled pairs the
 * prefix bound keeps), with the bound evaluated in float64 on up to 32 sampled rows (496 pairs). The pairs the
 * full int16 dot keeps cost the same float32 recompute whatever p is, so they do not count.
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
  // Other rows than those that ordered the dimensions, or the estimate flatters: halfway between
  // them, since neighbouring rows are often near-duplicates (bursts are uploaded together).
  const m = Math.min(n, 32);
  const mstep = n / Math.max(1, m);
  const rows = new Float64Array(m * d);
  const rest = new Float64Array(m * nc); // energy of sampled row i beyond candidate c
  for (let i = 0; i < m; i++) {
    const base = Math.min(n - 1, Math.floor(i * mstep + step / 2)) * d;
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
        // Moving a dimension k from the rest to the prefix lowers the bound by (x_k − y_k)²/2: a pair
        // dropped at one length is dropped at every longer one.
        if (s + (rest[a * nc + c] + rest[b * nc + c]) / 2 < floor) break;
        kept[c]++;
      }
    }
  }
  let best = nc - 1;
  let bestCost = Infinity;
  for (let c = 0; c < nc; c++) {
    const p = candidates[c];
    const cost = p + (p < d ? (SURVIVOR_COST + REST_COST * (d - p)) * (pairs > 0 ? kept[c] / pairs : 1) : 0);
    if (cost < bestCost) {
      bestCost = cost;
      best = c;
    }
  }
  return { order: all, p: candidates[best] };
}

/** The upper-triangle tiles (ti, tj), tj ≥ ti, as a flat list of row offsets. */
export function tileList(npad: number): number[] {
  const tiles: number[] = [];
  for (let ti = 0; ti < npad; ti += TILE) for (let tj = ti; tj < npad; tj += TILE) tiles.push(ti, tj);
  return tiles;
}

/**
 * Screens tiles of the list and returns the pairs that reach the floor, with their float32 value.
 * Every thread scanning the same list takes its next tile from the layout's shared counter
 * (set to 0 by prepareScreen), so a thread that drew cheap tiles takes more of them:
 * the prefix bound on each tile (blockI16), then for its survivors the int16 dot over the rest of
 * the dimensions (dotPairsI16), which with the tile's prefix dot makes the dot over all of them,
 * against its tighter bound, then the float32 recompute (dotPairs) of what is left.
 * Stops after the tile that takes it past `maxPairs` pairs (the caller then refuses).
 * Self-contained (no outer references, no inner functions, which a bundler may wrap in helpers; the
 * tile and pair buffer sizes are passed in), so parallel.ts can ship its source to worker threads.
 */
export function scanTiles(
  k: Pick<Kernel, "blockI16" | "scanGe" | "dotPairs" | "dotPairsI16" | "memory">,
  l: ScreenLayout,
  thread: number,
  tiles: ArrayLike<number>,
  floor: number,
  tileRows: number,
  pairCap: number,
  maxPairs = Number.POSITIVE_INFINITY,
): { a: number[]; b: number[]; s: number[] } {
  const { n, p, npad, threshold, threshold2 } = l;
  const rowBytes = p * 2;
  const tileOff = l.tileOff[thread];
  const pairOff = l.pairOff[thread];
  const resOff = pairOff + pairCap * 8;
  const tile = new Int32Array(k.memory.buffer, tileOff, tileRows * tileRows);
  const w = new Int32Array(k.memory.buffer, l.wOff, npad);
  const v = new Int32Array(k.memory.buffer, l.vOff, npad);
  const pairs = new Int32Array(k.memory.buffer, pairOff, pairCap * 2);
  const res = new Float32Array(k.memory.buffer, resOff, pairCap);
  const resI = new Int32Array(k.memory.buffer, resOff, pairCap);
  const prefixDot = new Int32Array(k.memory.buffer, resOff + pairCap * 4, pairCap);
  const out = { a: [] as number[], b: [] as number[], s: [] as number[] };
  const counter = new Int32Array(k.memory.buffer, l.counterOff, 1);
  for (let t = 2 * Atomics.add(counter, 0, 1); t < tiles.length; t = 2 * Atomics.add(counter, 0, 1)) {
    const ti = tiles[t];
    const tj = tiles[t + 1];
    const na = Math.min(tileRows, npad - ti);
    const nb = Math.min(tileRows, npad - tj);
    if (ti !== tj) k.blockI16(ti * rowBytes, na, tj * rowBytes, nb, p, tileOff, nb);
    // A tile on the diagonal: four rows at a time, from their own column on (the pairs read below).
    else for (let r = 0; r < na; r += 4) k.blockI16((ti + r) * rowBytes, 4, (tj + r) * rowBytes, nb - r, p, tileOff + (r * nb + r) * 4, nb);
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
          prefixDot[count] = tile[row + j];
          count++;
        }
      }
    }
    if (count === 0) continue;
    if (l.twoStage) {
      // The survivors, four at a time (padded with copies of the first): their int16 dot over the rest.
      for (let i = count; i < ((count + 3) & ~3); i++) {
        pairs[2 * i] = pairs[0];
        pairs[2 * i + 1] = pairs[1];
      }
      k.dotPairsI16(pairOff, (count + 3) & ~3, l.restOff, l.restBytes, resOff);
      let kept = 0;
      for (let i = 0; i < count; i++) {
        const a = pairs[2 * i];
        const b = pairs[2 * i + 1];
        if (prefixDot[i] + resI[i] + v[a] + v[b] < threshold2) continue;
        pairs[2 * kept] = a;
        pairs[2 * kept + 1] = b;
        kept++;
      }
      count = kept;
    }
    if (count === 0) continue;
    for (let i = count; i < ((count + 3) & ~3); i++) {
      pairs[2 * i] = pairs[0];
      pairs[2 * i + 1] = pairs[1];
    }
    k.dotPairs(pairOff, (count + 3) & ~3, l.vecOff, l.df * 4, resOff);
    for (let i = 0; i < count; i++) {
      if (res[i] >= floor) {
        out.a.push(pairs[2 * i]);
        out.b.push(pairs[2 * i + 1]);
        out.s.push(res[i]);
      }
    }
    // Past the caller's limit the answer is a refusal: stop holding pairs (a tile adds at most pairCap).
    if (out.a.length > maxPairs) return out;
  }
  return out;
}

/** Pair buffer size for scanTiles. */
export const PAIR_CAPACITY = PAIRS;
