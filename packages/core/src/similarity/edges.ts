/**
 * Exact all-pairs edges at or above a floor similarity, computed tile by tile with the WASM
 * kernel so that n = 5000 never holds n² floats at once (one tile of TILE×TILE at a time).
 */
import { InvalidParameterError, TooManyPairsError } from "../errors.ts";
import { type Kernel, sharedKernel } from "./kernel.ts";
import { checkMatrix } from "./normalize.ts";
import { PAIR_CAPACITY, prepareScreen, type ScreenLayout, scanTiles, TILE, tileList } from "./screen.ts";

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
  /** Past this many pairs, throw TooManyPairsError instead of holding them all (the exact path's budget). */
  maxPairs?: number;
}

/**
 * All pairs a < b of the n rows (L2-normalised) whose dot product is at least `floor`, with the
 * float32 value dotF32 gives. `floor` must be in (0, 1]: zero rows then never form edges.
 */
export function edgesAbove(vectors: Float32Array, n: number, d: number, floor: number, options: EdgesOptions = {}): Edges {
  checkMatrix(vectors, n, d);
  if (!(floor > 0 && floor <= 1)) throw new InvalidParameterError(`floor must be in (0, 1], got ${floor}`);
  const maxPairs = options.maxPairs ?? Number.POSITIVE_INFINITY;
  const out = new EdgeBuffer(Math.max(1024, Math.min(n * 4, maxPairs)));
  if (n < 2) return out.finish();
  if (options.kernel === "f32") edgesF32(vectors, n, d, floor, out, maxPairs);
  else edgesI16(vectors, n, d, floor, out, maxPairs);
  return sortEdges(out.finish());
}

function edgesF32(vectors: Float32Array, n: number, d: number, floor: number, out: EdgeBuffer, maxPairs: number): void {
  const kernel = sharedKernel();
  const dp = (d + 7) & ~7; // 4 lanes × 2 (the f32 kernel's unrolling)
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
      if (out.length > maxPairs) throw new TooManyPairsError(maxPairs);
    }
  }
}

/**
 * The edges clustering at a cut needs, when the cut is above the floor: every pair at or above the
 * floor inside the components of the pairs at or above `strong` (the cut). Average linkage never
 * merges across those components (an average ≥ cut needs one pair ≥ cut), and cluster statistics
 * only look inside clusters, so clusterEdges gives from these edges exactly the clusters it gives
 * from all edges above the floor. The screen at the cut drops far more pairs than at the floor
 * (2000 real MobileNetV2 embeddings: about 55 ms in all, against 90 for the screen at the floor). When the components hold more than
 * an eighth of all pairs, or strong ≤ floor, it is edgesAbove at the floor.
 */
export function edgesForCut(vectors: Float32Array, n: number, d: number, floor: number, strong: number, options: Pick<EdgesOptions, "maxPairs"> = {}): Edges {
  checkMatrix(vectors, n, d);
  if (!(strong > floor && strong <= 1) || n < 2) return edgesAbove(vectors, n, d, floor, options);
  const kernel = sharedKernel();
  const layout = prepareScreen(vectors, n, d, strong, kernel, 1);
  const maxPairs = options.maxPairs ?? Number.POSITIVE_INFINITY;
  const found = scanTiles(kernel, layout, 0, tileList(layout.npad), strong, TILE, PAIR_CAPACITY, maxPairs);
  if (found.a.length > maxPairs) throw new TooManyPairsError(maxPairs);
  const edges = withinComponents(kernel, layout, found, floor) ?? edgesAbove(vectors, n, d, floor, options);
  if (edges.a.length > maxPairs) throw new TooManyPairsError(maxPairs);
  return edges;
}

/** root[i]: the smallest member of i's component in the graph of the pairs (a[e], b[e]) with keep(e). */
export function componentRoots(n: number, a: ArrayLike<number>, b: ArrayLike<number>, keep: (e: number) => boolean = () => true): Int32Array {
  const root = new Int32Array(n);
  for (let i = 0; i < n; i++) root[i] = i;
  const find = (x: number) => {
    while (root[x] !== x) x = root[x] = root[root[x]];
    return x;
  };
  for (let e = 0; e < a.length; e++) {
    if (!keep(e)) continue;
    const ra = find(a[e]);
    const rb = find(b[e]);
    if (ra !== rb) root[Math.max(ra, rb)] = Math.min(ra, rb);
  }
  for (let i = 0; i < n; i++) root[i] = root[root[i]]; // roots are smaller than their members: one pass flattens
  return root;
}

/**
 * Every pair at or above the floor inside the components of the given pairs (at or above a cut
 * that is itself at or above the floor), with the float32 value dotF32 gives: the given pairs as
 * they are, and the other pairs of each component computed on the rows prepareScreen left in the
 * kernel memory (thread 0's pair buffer). Undefined when the components hold more than an eighth
 * of all pairs.
 */
export function withinComponents(
  kernel: Pick<Kernel, "memory" | "dotPairs">,
  layout: ScreenLayout,
  given: { a: ArrayLike<number>; b: ArrayLike<number>; s: ArrayLike<number> },
  floor: number,
): Edges | undefined {
  const { n } = layout;
  const root = componentRoots(n, given.a, given.b);
  const size = new Int32Array(n);
  const known = new Int32Array(n);
  for (let i = 0; i < n; i++) size[root[i]]++;
  for (let e = 0; e < given.a.length; e++) known[root[given.a[e]]]++;
  // Members of the incomplete components, ascending, from start[r] to start[r + 1].
  const start = new Int32Array(n + 1);
  let total = 0;
  for (let r = 0; r < n; r++) {
    const pairs = (size[r] * (size[r] - 1)) / 2;
    const open = root[r] === r && known[r] < pairs;
    if (open) total += pairs;
    start[r + 1] = start[r] + (open ? size[r] : 0);
  }
  if (total > (n * (n - 1)) / 16) return undefined;
  const members = new Int32Array(start[n]);
  const fill = start.slice(0, n);
  for (let i = 0; i < n; i++) if (start[root[i] + 1] > start[root[i]]) members[fill[root[i]]++] = i;

  // Which pairs of each incomplete component are given: an m×m bitmap per component, by local index.
  const local = new Int32Array(n);
  const mapAt = new Int32Array(n);
  let mapBytes = 0;
  for (let r = 0; r < n; r++) {
    const m = start[r + 1] - start[r];
    for (let x = start[r]; x < start[r + 1]; x++) local[members[x]] = x - start[r];
    mapAt[r] = mapBytes;
    mapBytes += m * m;
  }
  const isGiven = new Uint8Array(mapBytes);
  const out = new EdgeBuffer(Math.max(1024, given.a.length * 2));
  for (let e = 0; e < given.a.length; e++) {
    const a = given.a[e];
    const r = root[a];
    out.push(a, given.b[e], given.s[e]);
    const m = start[r + 1] - start[r];
    // A complete component has no bitmap (m = 0): nothing of it is filled in.
    if (m > 0) isGiven[mapAt[r] + local[a] * m + local[given.b[e]]] = 1;
  }
  const buf = new Int32Array(kernel.memory.buffer, layout.pairOff[0], PAIR_CAPACITY * 2);
  const resOff = layout.pairOff[0] + PAIR_CAPACITY * 8;
  const res = new Float32Array(kernel.memory.buffer, resOff, PAIR_CAPACITY);
  let count = 0;
  const flush = () => {
    const padded = (count + 3) & ~3;
    for (let i = count; i < padded; i++) buf.copyWithin(2 * i, 0, 2);
    kernel.dotPairs(layout.pairOff[0], padded, layout.vecOff, layout.df * 4, resOff);
    for (let i = 0; i < count; i++) if (res[i] >= floor) out.push(buf[2 * i], buf[2 * i + 1], res[i]);
    count = 0;
  };
  for (let r = 0; r < n; r++) {
    const m = start[r + 1] - start[r];
    for (let x = 0; x < m; x++) {
      for (let y = x + 1; y < m; y++) {
        if (isGiven[mapAt[r] + x * m + y]) continue;
        buf[2 * count] = members[start[r] + x];
        buf[2 * count + 1] = members[start[r] + y];
        if (++count === PAIR_CAPACITY) flush();
      }
    }
  }
  if (count > 0) flush();
  return sortEdges(out.finish());
}

function edgesI16(vectors: Float32Array, n: number, d: number, floor: number, out: EdgeBuffer, maxPairs: number): void {
  const kernel = sharedKernel();
  const layout = prepareScreen(vectors, n, d, floor, kernel, 1);
  const found = scanTiles(kernel, layout, 0, tileList(layout.npad), floor, TILE, PAIR_CAPACITY, maxPairs);
  if (found.a.length > maxPairs) throw new TooManyPairsError(maxPairs);
  for (let k = 0; k < found.a.length; k++) out.push(found.a[k], found.b[k], found.s[k]);
}

/** Sorts edges by (a, b) so the output does not depend on the tiling or the threads. */
export function sortEdges(e: Edges): Edges {
  // Radix sort in two stable counting passes, by b then by a: linear however the pairs arrive.
  const m = e.a.length;
  let n = 0;
  for (let i = 0; i < m; i++) n = Math.max(n, e.a[i] + 1, e.b[i] + 1);
  const byB = countingOrder(
    e.b,
    n,
    Uint32Array.from({ length: m }, (_, i) => i),
  );
  const order = countingOrder(e.a, n, byB);
  const a = new Uint32Array(m);
  const b = new Uint32Array(m);
  const s = new Float32Array(m);
  for (let i = 0; i < m; i++) {
    a[i] = e.a[order[i]];
    b[i] = e.b[order[i]];
    s[i] = e.s[order[i]];
  }
  return { a, b, s };
}

/** The indexes `input` reordered by key[index] (keys below n), stably. */
function countingOrder(key: Uint32Array, n: number, input: Uint32Array): Uint32Array {
  const start = new Uint32Array(n + 1);
  for (let i = 0; i < input.length; i++) start[key[input[i]] + 1]++;
  for (let k = 0; k < n; k++) start[k + 1] += start[k];
  const out = new Uint32Array(input.length);
  for (let i = 0; i < input.length; i++) out[start[key[input[i]]]++] = input[i];
  return out;
}
