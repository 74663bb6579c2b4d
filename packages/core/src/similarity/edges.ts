/**
 * Exact all-pairs edges at or above a floor similarity, computed tile by tile with the WASM
 * kernel so that n = 5000 never holds n² floats at once (one tile of TILE×TILE at a time).
 */
import { InvalidParameterError } from "../errors.ts";
import { dotF32 } from "./dot.ts";
import { sharedKernel } from "./kernel.ts";
import { checkMatrix } from "./normalize.ts";

/** Pairs (a[i], b[i]) with a[i] < b[i] and similarity s[i], sorted by (a, b). */
export interface Edges {
  a: Uint32Array;
  b: Uint32Array;
  s: Float32Array;
}

/** Rows per tile: a 128×1280 float tile is 640 KB, which stays in a 1 MB L2 cache. */
const TILE = 128;

/** Appends edges into typed arrays that double as they fill. */
export class EdgeBuffer {
  length = 0;
  private a: Uint32Array;
  private b: Uint32Array;
  private s: Float32Array;
  constructor(capacity = 1024) {
    this.a = new Uint32Array(capacity);
    this.b = new Uint32Array(capacity);
    this.s = new Float32Array(capacity);
  }
  push(a: number, b: number, s: number): void {
    if (this.length === this.a.length) this.grow();
    this.a[this.length] = a;
    this.b[this.length] = b;
    this.s[this.length] = s;
    this.length++;
  }
  private grow(): void {
    const cap = this.a.length * 2;
    const a = new Uint32Array(cap);
    const b = new Uint32Array(cap);
    const s = new Float32Array(cap);
    a.set(this.a);
    b.set(this.b);
    s.set(this.s);
    this.a = a;
    this.b = b;
    this.s = s;
  }
  finish(): Edges {
    return { a: this.a.slice(0, this.length), b: this.b.slice(0, this.length), s: this.s.slice(0, this.length) };
  }
}

export interface EdgesOptions {
  /**
   * "i16" (default): screen every pair on int16-quantised rows with a proven error bound, then
   * recompute the pairs that may reach the floor in float32. "f32": the float32 kernel on every
   * pair. Both return the same edges with the same values, bit for bit.
   */
  kernel?: "i16" | "f32";
}

/**
 * All pairs a < b of the n rows (L2-normalised) whose dot product is at least `floor`, with the
 * float32 value dotF32 gives. `floor` must be in (0, 1]: zero rows then never form edges.
 */
export function edgesAbove(vectors: Float32Array, n: number, d: number, floor: number, options: EdgesOptions = {}): Edges {
  checkMatrix(vectors, n, d);
  if (!(floor > 0 && floor <= 1)) throw new InvalidParameterError(`floor must be in (0, 1], got ${floor}`);
  const out = new EdgeBuffer(Math.max(1024, n * 4));
  if (n < 2) return out.finish();
  if (options.kernel === "f32") edgesF32(vectors, n, d, floor, out);
  else edgesI16(vectors, n, d, floor, out);
  return sortEdges(out.finish());
}

function edgesF32(vectors: Float32Array, n: number, d: number, floor: number, out: EdgeBuffer): void {
  const kernel = sharedKernel();
  const dp = (d + 7) & ~7; // 4 lanes × UNROLL
  const npad = (n + 3) & ~3;
  const rowBytes = dp * 4;
  const tileOff = npad * rowBytes;
  kernel.reserve(tileOff + TILE * TILE * 4);
  const mem = new Float32Array(kernel.memory.buffer);
  mem.fill(0, 0, npad * dp);
  for (let r = 0; r < n; r++) mem.set(vectors.subarray(r * d, r * d + d), r * dp);
  const tile = new Float32Array(kernel.memory.buffer, tileOff, TILE * TILE);
  for (let ti = 0; ti < npad; ti += TILE) {
    const na = Math.min(TILE, npad - ti);
    for (let tj = ti; tj < npad; tj += TILE) {
      const nb = Math.min(TILE, npad - tj);
      kernel.block(ti * rowBytes, na, tj * rowBytes, nb, dp, tileOff, nb);
      const iEnd = Math.min(na, n - ti);
      const jEnd = Math.min(nb, n - tj);
      for (let i = 0; i < iEnd; i++) {
        const row = i * nb;
        for (let j = ti === tj ? i + 1 : 0; j < jEnd; j++) {
          const s = tile[row + j];
          if (s >= floor) out.push(ti + i, tj + j, s);
        }
      }
    }
  }
}

/**
 * Row r is stored as q = round(x·S_r) in int16, with S_r ≤ 32767/max|x| (fits int16) and
 * S_r ≤ 44000 (|q|₂ < 46341, so every int32 sum Σ qa·qb stays below 2³¹: exact).
 * With |x·S − q| ≤ ½ per value, |Σ qa·qb − S_a·S_b·<a,b>| ≤ ½|qa|₁ + ½|qb|₁ + d/4, and the float32
 * sum differs from the real <a,b> by less than (d/4 + 3)·2⁻²³ (|<a,b>| ≤ Σ|a·b| ≤ 1). A pair whose
 * quantised sum cannot reach the floor is dropped; every other pair is recomputed with dotF32.
 */
function edgesI16(vectors: Float32Array, n: number, d: number, floor: number, out: EdgeBuffer): void {
  const kernel = sharedKernel();
  const dq = (d + 15) & ~15; // 8 lanes × UNROLL
  const npad = (n + 3) & ~3;
  const rowBytes = dq * 2;
  const tileOff = npad * rowBytes;
  kernel.reserve(tileOff + TILE * TILE * 4);
  const q = new Int16Array(kernel.memory.buffer, 0, npad * dq);
  q.fill(0);
  const scale = new Float64Array(npad);
  const slack = new Float64Array(npad);
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
  const margin = floor - (d / 4 + 3) * 2 ** -23 * 2;
  const tile = new Int32Array(kernel.memory.buffer, tileOff, TILE * TILE);
  for (let ti = 0; ti < npad; ti += TILE) {
    const na = Math.min(TILE, npad - ti);
    for (let tj = ti; tj < npad; tj += TILE) {
      const nb = Math.min(TILE, npad - tj);
      kernel.blockI16(ti * rowBytes, na, tj * rowBytes, nb, dq, tileOff, nb);
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
          const s = dotF32(vectors, a * d, vectors, b * d, d);
          if (s >= floor) out.push(a, b, s);
        }
      }
    }
  }
}

/** Sorts edges by (a, b) so the output does not depend on the tiling. */
function sortEdges(e: Edges): Edges {
  const m = e.a.length;
  const idx = new Uint32Array(m);
  for (let i = 0; i < m; i++) idx[i] = i;
  idx.sort((x, y) => e.a[x] - e.a[y] || e.b[x] - e.b[y]);
  const a = new Uint32Array(m);
  const b = new Uint32Array(m);
  const s = new Float32Array(m);
  for (let i = 0; i < m; i++) {
    a[i] = e.a[idx[i]];
    b[i] = e.b[idx[i]];
    s[i] = e.s[idx[i]];
  }
  return { a, b, s };
}
