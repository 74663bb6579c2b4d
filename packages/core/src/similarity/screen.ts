/**
 * The int16 screen of edgesAbove, shared by the one-thread and the worker-thread paths.
 *
 * Row r is stored as q = round(x·S_r) in int16, with S_r ≤ 32767/max|x| (fits int16) and
 * S_r ≤ 44000 (|q|₂ < 46341, so every int32 sum Σ qa·qb stays below 2³¹: exact).
 * With |x·S − q| ≤ ½ per value, |Σ qa·qb − S_a·S_b·<a,b>| ≤ ½|qa|₁ + ½|qb|₁ + d/4, and the float32
 * sum differs from the real <a,b> by less than (d/4 + 3)·2⁻²³ (|<a,b>| ≤ Σ|a·b| ≤ 1). A pair whose
 * quantised sum cannot reach the floor is dropped; every other pair is recomputed with dotF32.
 */

/** Rows per tile: a 128-row tile of int16 × 1280 is 320 KB, well inside a 1 MB L2 cache. */
export const TILE = 128;

/** Byte offsets inside the kernel memory. */
export interface ScreenLayout {
  n: number;
  d: number;
  /** Padded row length in int16 (multiple of 16) and padded row count (multiple of 4). */
  dq: number;
  npad: number;
  scaleOff: number;
  slackOff: number;
  /** A float32 copy of the vectors (only when worker threads need them), else -1. */
  vecOff: number;
  /** One TILE×TILE int32 tile per thread. */
  tileOff: number[];
  bytes: number;
}

export function screenLayout(n: number, d: number, threads: number, copyVectors: boolean): ScreenLayout {
  const dq = (d + 15) & ~15;
  const npad = (n + 3) & ~3;
  const align = (x: number) => (x + 15) & ~15;
  const scaleOff = align(npad * dq * 2);
  const slackOff = scaleOff + npad * 8;
  let next = slackOff + npad * 8;
  const vecOff = copyVectors ? next : -1;
  if (copyVectors) next = align(next + n * d * 4);
  const tileOff: number[] = [];
  for (let t = 0; t < threads; t++, next += TILE * TILE * 4) tileOff.push(next);
  return { n, d, dq, npad, scaleOff, slackOff, vecOff, tileOff, bytes: next };
}

/** Writes the int16 rows, their scales and error slacks into the kernel memory. */
export function quantizeRows(vectors: Float32Array, buffer: ArrayBufferLike, l: ScreenLayout): void {
  const { n, d, dq, npad } = l;
  const q = new Int16Array(buffer, 0, npad * dq);
  const scale = new Float64Array(buffer, l.scaleOff, npad);
  const slack = new Float64Array(buffer, l.slackOff, npad);
  q.fill(0);
  scale.fill(0);
  slack.fill(0);
  for (let r = 0; r < n; r++) {
    const base = r * d;
    let max = 0;
    for (let k = 0; k < d; k++) max = Math.max(max, Math.abs(vectors[base + k]));
    const s = max > 0 ? Math.min(32767 / max, 44000) : 0;
    let l1 = 0;
    const qb = r * dq;
    for (let k = 0; k < d; k++) {
      const v = Math.round(vectors[base + k] * s);
      q[qb + k] = v;
      l1 += Math.abs(v);
    }
    scale[r] = s;
    slack[r] = 0.5 * l1 + d / 8;
  }
  if (l.vecOff >= 0) new Float32Array(buffer, l.vecOff, n * d).set(vectors.subarray(0, n * d));
}

/** The upper-triangle tiles (ti, tj), tj ≥ ti, as a flat list of row offsets. */
export function tileList(npad: number): number[] {
  const tiles: number[] = [];
  for (let ti = 0; ti < npad; ti += TILE) for (let tj = ti; tj < npad; tj += TILE) tiles.push(ti, tj);
  return tiles;
}

type Block = (aOff: number, na: number, bOff: number, nb: number, dp: number, outOff: number, stride: number) => void;
type Dot = (x: Float32Array, xOff: number, y: Float32Array, yOff: number, d: number) => number;

/**
 * Screens the given tiles and returns the pairs that reach the floor, with their dotF32 value.
 * Self-contained (no outer references, TILE passed in), so parallel.ts can ship its source to
 * worker threads.
 */
export function scanTiles(
  block: Block, buffer: ArrayBufferLike, l: ScreenLayout, thread: number, tiles: ArrayLike<number>,
  floor: number, tileRows: number, vectors: Float32Array | null, dot: Dot,
): { a: number[]; b: number[]; s: number[] } {
  const { n, d, dq, npad } = l;
  const rowBytes = dq * 2;
  const tileOff = l.tileOff[thread];
  const scale = new Float64Array(buffer, l.scaleOff, npad);
  const slack = new Float64Array(buffer, l.slackOff, npad);
  const tile = new Int32Array(buffer, tileOff, tileRows * tileRows);
  const vec = vectors ?? new Float32Array(buffer, l.vecOff, n * d);
  const margin = floor - (d / 4 + 3) * 2 ** -23 * 2;
  const out = { a: [] as number[], b: [] as number[], s: [] as number[] };
  for (let t = 0; t < tiles.length; t += 2) {
    const ti = tiles[t];
    const tj = tiles[t + 1];
    const na = Math.min(tileRows, npad - ti);
    const nb = Math.min(tileRows, npad - tj);
    block(ti * rowBytes, na, tj * rowBytes, nb, dq, tileOff, nb);
    const iEnd = Math.min(na, n - ti);
    const jEnd = Math.min(nb, n - tj);
    for (let i = 0; i < iEnd; i++) {
      const a = ti + i;
      const fa = margin * scale[a];
      const ca = slack[a];
      if (fa === 0) continue; // a zero row: every dot is 0 < floor
      const row = i * nb;
      for (let j = ti === tj ? i + 1 : 0; j < jEnd; j++) {
        const b = tj + j;
        if (tile[row + j] + ca + slack[b] < fa * scale[b]) continue;
        const s = dot(vec, a * d, vec, b * d, d);
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
