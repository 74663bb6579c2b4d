/**
 * Exact all-pairs edges at or above a floor similarity, computed tile by tile with the WASM
 * kernel so that n = 5000 never holds n² floats at once (one tile of TILE×TILE at a time).
 */
import { InvalidParameterError } from "../errors.ts";
import { sharedKernel } from "./kernel.ts";
import { checkMatrix } from "./normalize.ts";
import { PAIR_CAPACITY, prepareScreen, scanTiles, TILE, tileList } from "./screen.ts";

/** Pairs (a[i], b[i]) with a[i] < b[i] and similarity s[i], sorted by (a, b). */
export interface Edges {
  a: Uint32Array;
  b: Uint32Array;
  s: Float32Array;
}


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
   * "i16" (default): screen every pair on an int16 prefix of the dimensions with a proven bound on
   * the rest (screen.ts), then recompute the pairs that may reach the floor in float32. "f32": the
   * float32 kernel on every pair. Both return the same edges with the same values, bit for bit.
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

function edgesI16(vectors: Float32Array, n: number, d: number, floor: number, out: EdgeBuffer): void {
  const kernel = sharedKernel();
  const layout = prepareScreen(vectors, n, d, floor, kernel, 1);
  const found = scanTiles(kernel, layout, 0, tileList(layout.npad), floor, TILE, PAIR_CAPACITY);
  for (let k = 0; k < found.a.length; k++) out.push(found.a[k], found.b[k], found.s[k]);
}

/** Sorts edges by (a, b) so the output does not depend on the tiling or the threads. */
export function sortEdges(e: Edges): Edges {
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
