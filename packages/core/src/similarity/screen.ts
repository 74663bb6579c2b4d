/**
 * The int16 screen of edgesAbove, shared by the one-thread and the worker-thread paths.
 *
 * Every row is stored as q = nearest(fround(x·S)) in int16 with one scale S ≤ 32767/max|x| (fits
 * int16) and S ≤ 44000 (|q|₂ < 46341, so every int32 sum Σ qa·qb stays below 2³¹: exact).
 * With |x·S − q| ≤ E = 0.502 per value (½ from rounding, |x·S|·2⁻²⁴ ≤ 0.002 from the float32
 * product), |Σ qa·qb − S²·<a,b>| ≤ E|qa|₁ + E|qb|₁ + E²·d, and the float32 sum differs from the
 * real <a,b> by less than (d/4 + 3)·2⁻²³ (|<a,b>| ≤ Σ|a·b| ≤ 1). So a pair whose quantised sum is
 * below T = (floor − that)·S² − 2E·max|q|₁ − E²·d cannot reach the floor; every other pair is
 * recomputed in float32 by dotRow, exactly as dotF32 and the f32 kernel round it.
 */
import type { Kernel } from "./kernel.ts";

/** Rows per tile: a 128-row tile of int16 × 1280 is 320 KB, well inside a 1 MB L2 cache. */
export const TILE = 128;

/** Byte offsets inside the kernel memory, and the screen's threshold. */
export interface ScreenLayout {
  n: number;
  d: number;
  /** Padded row length (multiple of 16) and padded row count (multiple of 4). */
  dq: number;
  npad: number;
  /** The float32 rows, zero-padded to dq (stride dq·4 bytes). */
  vecOff: number;
  /** One TILE×TILE int32 tile per thread. */
  tileOff: number[];
  bytes: number;
  /** Set by quantizeRows: quantised sums below it are dropped. */
  threshold: number;
}

export function screenLayout(n: number, d: number, threads: number): ScreenLayout {
  const dq = (d + 15) & ~15;
  const npad = (n + 3) & ~3;
  const vecOff = npad * dq * 2;
  let next = vecOff + npad * dq * 4;
  const tileOff: number[] = [];
  for (let t = 0; t < threads; t++, next += TILE * TILE * 4) tileOff.push(next);
  return { n, d, dq, npad, vecOff, tileOff, bytes: next, threshold: 0 };
}

const E = 0.502;

/** Copies the rows in, writes their int16 form (WASM SIMD) and sets the screen's threshold. */
export function quantizeRows(vectors: Float32Array, kernel: Pick<Kernel, "memory" | "maxAbs" | "quantizeRow">, l: ScreenLayout, floor: number): void {
  const { n, d, dq, npad } = l;
  const buffer = kernel.memory.buffer;
  const vec = new Float32Array(buffer, l.vecOff, npad * dq);
  if (dq === d) vec.set(vectors.subarray(0, n * d));
  else for (let r = 0; r < n; r++) vec.set(vectors.subarray(r * d, r * d + d), r * dq);
  if (dq !== d) for (let r = 0; r < n; r++) vec.fill(0, r * dq + d, r * dq + dq);
  vec.fill(0, n * dq);
  let max = 0;
  for (let r = 0; r < n; r++) max = Math.max(max, kernel.maxAbs(l.vecOff + r * dq * 4, dq));
  const s = max > 0 ? Math.fround(Math.min(32767 / max, 44000)) : 0;
  let maxL1 = 0;
  for (let r = 0; r < npad; r++) maxL1 = Math.max(maxL1, kernel.quantizeRow(l.vecOff + r * dq * 4, r * dq * 2, dq, s));
  const margin = floor - (d / 4 + 3) * 2 ** -23 * 2;
  const t = Math.floor(margin * s * s - 2 * E * maxL1 - E * E * d) - 1;
  l.threshold = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, t));
}

/** The upper-triangle tiles (ti, tj), tj ≥ ti, as a flat list of row offsets. */
export function tileList(npad: number): number[] {
  const tiles: number[] = [];
  for (let ti = 0; ti < npad; ti += TILE) for (let tj = ti; tj < npad; tj += TILE) tiles.push(ti, tj);
  return tiles;
}

/**
 * Screens the given tiles and returns the pairs that reach the floor, with their float32 value.
 * Self-contained (no outer references; the tile size is passed in), so parallel.ts can ship its
 * source to worker threads.
 */
export function scanTiles(
  k: Pick<Kernel, "blockI16" | "scanGe" | "dotRow" | "memory">, l: ScreenLayout, thread: number,
  tiles: ArrayLike<number>, floor: number, tileRows: number,
): { a: number[]; b: number[]; s: number[] } {
  const { n, dq, npad } = l;
  const rowBytes = dq * 2;
  const tileOff = l.tileOff[thread];
  const tile = new Int32Array(k.memory.buffer, tileOff, tileRows * tileRows);
  const out = { a: [] as number[], b: [] as number[], s: [] as number[] };
  for (let t = 0; t < tiles.length; t += 2) {
    const ti = tiles[t];
    const tj = tiles[t + 1];
    const na = Math.min(tileRows, npad - ti);
    const nb = Math.min(tileRows, npad - tj);
    k.blockI16(ti * rowBytes, na, tj * rowBytes, nb, dq, tileOff, nb);
    const total = na * nb;
    for (let g = k.scanGe(tileOff, 0, total, l.threshold); g < total; g = k.scanGe(tileOff, g + 4, total, l.threshold)) {
      for (let idx = g; idx < g + 4; idx++) {
        if (tile[idx] < l.threshold) continue;
        const i = (idx / nb) | 0;
        const a = ti + i;
        const b = tj + idx - i * nb;
        if (a >= n || b >= n || b <= a) continue;
        const s = k.dotRow(l.vecOff + a * dq * 4, l.vecOff + b * dq * 4, dq * 4);
        if (s >= floor) {
          out.a.push(a);
          out.b.push(b);
          out.s.push(s);
        }
      }
    }
  }
  return out;
}
