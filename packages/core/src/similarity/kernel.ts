/**
 * The pairwise dot-product kernels: hand-written WASM SIMD with register blocking (float32 2×4,
 * int16 2×2; with running row pointers 2×2, 2×4 and 4×2 measure the same at p = 400, and the
 * tile size, 24 to 204 rows, hardly matters).
 *
 * `block` (f32x4) computes out[i][j] = <A_i, B_j> for a tile of rows held in the module's memory.
 * Rows are zero-padded to a multiple of 4·UNROLL floats (8·UNROLL int16), so the inner loop has no tail. Each dot is
 * accumulated in four f32 lanes (lane l takes k ≡ l mod 4, in order) and reduced as
 * (l0 + l1) + (l2 + l3); `dotF32` in dot.ts reproduces this bit for bit in plain JavaScript,
 * so the stored graph (built with dotAll, see KernelMatrix in dot.ts) and the exact path agree to the last bit.
 *
 * `blockI16` does the same on int16-quantised rows with i32x4.dot_i16x8_s (8 products per
 * instruction, twice the f32 rate), exactly in int32: edgesAbove uses it on a prefix of the
 * dimensions to screen pairs with a proven bound (screen.ts), then recomputes the survivors with
 * the f32 arithmetic above (dotPairs). dotAll runs one row against all rows (the store's graph).
 */
import { encodeModule, f32, f64, i32, op, v128, type Bytes } from "./wasm-encoder.ts";

// Parameters, then locals, by index.
const [A, NA, B, NB, DP, OUT, STRIDE] = [0, 1, 2, 3, 4, 5, 6];
const [I, J, K, ROW] = [7, 8, 9, 10];

/** Local indexes of a block kernel with an ra×rb register tile. */
function blockLocals(ra: number, rb: number) {
  const ar = 11; // A row addresses (ra), B row addresses (rb), output row addresses (ra), P (ra + rb)
  const br = ar + ra;
  const or = br + rb;
  const p = or + ra;
  const acc = p + ra + rb; // ra·rb accumulators, then ra A vectors, one B vector
  const va = acc + ra * rb;
  const vb = va + ra;
  return { ar, br, or, p, acc, va, vb, locals: [[acc - 7, i32], [ra * rb + ra + 1, v128]] as Array<[number, number]> };
}

interface Flavour {
  /** log2 of the element size in bytes. */
  shift: number;
  /** acc ← acc + va·vb, with acc, va, vb on the stack in that order. */
  mulAdd: Bytes[];
  /** One accumulator's lanes summed as (l0 + l1) + (l2 + l3), left on the stack. */
  reduce: (acc: number) => Bytes[];
  store: (offset: number) => Bytes;
}

const lanes = (acc: number, extract: (l: number) => Bytes, addOp: Bytes): Bytes[] => [
  op.localGet(acc), extract(0), op.localGet(acc), extract(1), addOp,
  op.localGet(acc), extract(2), op.localGet(acc), extract(3), addOp,
  addOp,
];
const F32: Flavour = {
  shift: 2,
  mulAdd: [op.f32x4Mul, op.f32x4Add],
  reduce: (acc) => lanes(acc, op.f32x4ExtractLane, op.f32Add),
  store: op.f32Store,
};
const I16: Flavour = {
  shift: 1,
  mulAdd: [op.i32x4DotI16x8S, op.i32x4Add],
  reduce: (acc) => lanes(acc, op.i32x4ExtractLane, op.i32Add),
  store: op.i32Store,
};

/** while (local < limit) { body } */
function whileLt(local: number, limit: number, body: Bytes[]): Bytes[] {
  return [op.block, op.loop, op.localGet(local), op.localGet(limit), op.i32LtU, op.i32Eqz, op.brIf(1), ...body, op.br(0), op.end, op.end];
}
const set = (local: number, ...expr: Bytes[]): Bytes[] => [...expr, op.localSet(local)];
const add = (a: Bytes, b: Bytes): Bytes[] => [a, b, op.i32Add];
const get = op.localGet;

/** Vectors per row consumed by one inner step (the loop advances K by 16·UNROLL bytes). */
export const UNROLL = 2;
/** The int16 kernel's register tile: rows of A by rows of B. */
const I16_TILE: [number, number] = [2, 2];

function microStep(f: Flavour, ra: number, rb: number): Bytes[] {
  const L = blockLocals(ra, rb);
  const steps: Bytes[] = [];
  for (let u = 0; u < UNROLL; u++) {
    for (let r = 0; r < ra; r++) steps.push(...set(L.va + r, get(L.p + r), op.v128Load(16 * u)));
    for (let c = 0; c < rb; c++) {
      steps.push(...set(L.vb, get(L.p + ra + c), op.v128Load(16 * u)));
      for (let r = 0; r < ra; r++) {
        const acc = L.acc + rb * r + c;
        steps.push(get(acc), get(L.va + r), get(L.vb), f.mulAdd[0], f.mulAdd[1], op.localSet(acc));
      }
    }
  }
  // Running row pointers (about 10% faster under V8 than base + K addresses: fewer registers)
  for (let x = 0; x < ra + rb; x++) steps.push(...set(L.p + x, ...add(get(L.p + x), op.i32Const(16 * UNROLL))));
  return steps;
}

function blockBody(f: Flavour, ra: number, rb: number): Bytes[] {
  const L = blockLocals(ra, rb);
  const body: Bytes[] = [...set(ROW, get(DP), op.i32Const(f.shift), op.i32Shl)];
  const perJ: Bytes[] = [...set(L.br, get(B), get(J), get(ROW), op.i32Mul, op.i32Add)];
  for (let c = 1; c < rb; c++) perJ.push(...set(L.br + c, ...add(get(L.br + c - 1), get(ROW))));
  for (let a = 0; a < ra * rb; a++) perJ.push(...set(L.acc + a, op.v128Const0));
  // P: the rows' running pointers; K: where the first A row ends.
  for (let r = 0; r < ra; r++) perJ.push(...set(L.p + r, get(L.ar + r)));
  for (let c = 0; c < rb; c++) perJ.push(...set(L.p + ra + c, get(L.br + c)));
  perJ.push(...set(K, ...add(get(L.ar), get(ROW))), ...whileLt(L.p, K, microStep(f, ra, rb)));
  perJ.push(
    ...set(L.or, get(OUT), get(I), get(STRIDE), op.i32Mul, get(J), op.i32Add, op.i32Const(2), op.i32Shl, op.i32Add),
  );
  for (let r = 1; r < ra; r++) perJ.push(...set(L.or + r, get(L.or + r - 1), get(STRIDE), op.i32Const(2), op.i32Shl, op.i32Add));
  for (let r = 0; r < ra; r++) {
    for (let c = 0; c < rb; c++) perJ.push(get(L.or + r), ...f.reduce(L.acc + rb * r + c), f.store(4 * c));
  }
  perJ.push(...set(J, ...add(get(J), op.i32Const(rb))));
  const perI: Bytes[] = [...set(L.ar, get(A), get(I), get(ROW), op.i32Mul, op.i32Add)];
  for (let r = 1; r < ra; r++) perI.push(...set(L.ar + r, ...add(get(L.ar + r - 1), get(ROW))));
  perI.push(...set(J, op.i32Const(0)), ...whileLt(J, NB, perJ), ...set(I, ...add(get(I), op.i32Const(ra))));
  body.push(...set(I, op.i32Const(0)), ...whileLt(I, NA, perI));
  return body;
}

/**
 * scanGe(ptr, col, from, to, t): the first k in [from, to), k ≡ 0 mod 4, where any of
 * tile[k..k+3] + col[k..k+3] ≥ t (int32 at ptr and col); else `to`.
 */
function scanBody(): Bytes[] {
  const [PTR, COL, FROM, TO, T, TV] = [0, 1, 2, 3, 4, 5];
  const at = (base: number): Bytes[] => [get(base), get(FROM), op.i32Const(2), op.i32Shl, op.i32Add, op.v128Load()];
  return [
    ...set(TV, get(T), op.i32x4Splat),
    op.block, op.loop,
    get(FROM), get(TO), op.i32LtU, op.i32Eqz, op.brIf(1),
    ...at(PTR), ...at(COL), op.i32x4Add, get(TV), op.i32x4GeS, op.v128AnyTrue, op.brIf(1),
    ...set(FROM, ...add(get(FROM), op.i32Const(4))),
    op.br(0), op.end, op.end,
    get(FROM),
  ];
}

/**
 * dotPairs(pairs, count, base, rowBytes, out): out[i] = <row a_i, row b_i> for the count (a multiple
 * of 4) int32 pairs (a_i, b_i) at `pairs`, rows at base + index·rowBytes. Four pairs at a time, each
 * in its own accumulator rounded exactly as dotRow rounds it.
 */
function dotPairsBody(): Bytes[] {
  const [PAIRS, COUNT, BASE, RB, OUT, I, K] = [0, 1, 2, 3, 4, 5, 6];
  const PA = 7; // four A row addresses, four B row addresses
  const PB = 11;
  const ACC = 15;
  const rowAt = (offset: number): Bytes[] => [get(BASE), get(PAIRS), get(I), op.i32Const(3), op.i32Shl, op.i32Add, op.i32Load(offset), get(RB), op.i32Mul, op.i32Add];
  const perGroup: Bytes[] = [];
  for (let p = 0; p < 4; p++) perGroup.push(...set(PA + p, ...rowAt(8 * p)), ...set(PB + p, ...rowAt(8 * p + 4)), ...set(ACC + p, op.v128Const0));
  const step: Bytes[] = [];
  for (let p = 0; p < 4; p++) {
    step.push(...set(ACC + p, get(ACC + p), ...add(get(PA + p), get(K)), op.v128Load(), ...add(get(PB + p), get(K)), op.v128Load(), op.f32x4Mul, op.f32x4Add));
  }
  perGroup.push(...set(K, op.i32Const(0)), ...whileLt(K, RB, [...step, ...set(K, ...add(get(K), op.i32Const(16)))]));
  for (let p = 0; p < 4; p++) perGroup.push(get(OUT), get(I), op.i32Const(2), op.i32Shl, op.i32Add, ...F32.reduce(ACC + p), op.f32Store(4 * p));
  perGroup.push(...set(I, ...add(get(I), op.i32Const(4))));
  return [...set(I, op.i32Const(0)), ...whileLt(I, COUNT, perGroup)];
}

/**
 * gatherQuantize(src, order, p, s, dst, stats): dst[k] = int16(nearest(x[order[k]]·s)) for k < p,
 * the product in float64 (|x·s| must stay below 32767); stats ← [Σx² over those k in float64,
 * Σ|dst[k]| as a float64].
 */
function gatherQuantizeBody(): Bytes[] {
  const [SRC, ORDER, P, S, DST, STATS, K, Y, M, L1, X, PRE] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  return [
    ...set(K, op.i32Const(0)),
    ...whileLt(K, P, [
      ...set(X, get(SRC), get(ORDER), get(K), op.i32Const(2), op.i32Shl, op.i32Add, op.i32Load(), op.i32Const(2), op.i32Shl, op.i32Add, op.f32Load(), op.f64PromoteF32),
      ...set(PRE, get(PRE), get(X), get(X), op.f64Mul, op.f64Add),
      ...set(Y, get(X), get(S), op.f64Mul, op.f64Nearest, op.i32TruncSatF64S),
      get(DST), get(K), op.i32Const(1), op.i32Shl, op.i32Add, get(Y), op.i32Store16(),
      ...set(M, get(Y), op.i32Const(31), op.i32ShrS),
      ...set(L1, get(L1), get(Y), get(M), op.i32Xor, get(M), op.i32Sub, op.i32Add),
      ...set(K, ...add(get(K), op.i32Const(1))),
    ]),
    get(STATS), get(PRE), op.f64Store(),
    get(STATS), get(L1), op.f64ConvertI32S, op.f64Store(8),
  ];
}

/** dotRow(a, b, len): one dot product of float32 rows, rounded exactly as `block` rounds it. */
function dotRowBody(): Bytes[] {
  const [PA, PB, LEN, K, ACCV] = [0, 1, 2, 3, 4];
  return [
    ...set(K, op.i32Const(0)),
    ...whileLt(K, LEN, [
      ...set(ACCV, get(ACCV), ...add(get(PA), get(K)), op.v128Load(), ...add(get(PB), get(K)), op.v128Load(), op.f32x4Mul, op.f32x4Add),
      ...set(K, ...add(get(K), op.i32Const(16))),
    ]),
    ...F32.reduce(ACCV),
  ];
}

/**
 * dotAll(rows, n, rowBytes, q, out): out[r] = <row r, q> for r < n (a multiple of 4), rows at
 * `rows` with stride and length rowBytes (a multiple of 16). Four rows at a time, each with its own
 * accumulator rounded exactly as dotRow rounds it.
 */
function dotAllBody(): Bytes[] {
  const [ROWS, N, RB, Q, OUT, R, K, P0, END] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const ACC = 9; // four accumulators, then the query vector
  const VQ = 13;
  const step: Bytes[] = [...set(VQ, ...add(get(Q), get(K)), op.v128Load())];
  for (let i = 0; i < 4; i++) {
    // row i of the four: P0 + i·rowBytes + K
    const addr: Bytes[] = i === 0 ? add(get(P0), get(K)) : [get(P0), get(RB), op.i32Const(i), op.i32Mul, op.i32Add, get(K), op.i32Add];
    step.push(...set(ACC + i, get(ACC + i), ...addr, op.v128Load(), get(VQ), op.f32x4Mul, op.f32x4Add));
  }
  const perRow: Bytes[] = [
    ...set(P0, get(ROWS), get(R), get(RB), op.i32Mul, op.i32Add),
    ...[0, 1, 2, 3].flatMap((i) => set(ACC + i, op.v128Const0)),
    ...set(K, op.i32Const(0)),
    ...whileLt(K, RB, [...step, ...set(K, ...add(get(K), op.i32Const(16)))]),
  ];
  for (let i = 0; i < 4; i++) perRow.push(get(OUT), get(R), op.i32Const(2), op.i32Shl, op.i32Add, ...F32.reduce(ACC + i), op.f32Store(4 * i));
  perRow.push(...set(R, ...add(get(R), op.i32Const(4))));
  return [...set(END, get(N)), ...set(R, op.i32Const(0)), ...whileLt(R, END, perRow)];
}

/** Largest shared memory, in 64 KB pages (1 GB). */
const SHARED_MAX_PAGES = 16384;

/** The module's bytes (about 2.4 KB), for a private or a shared memory. */
export function kernelBytes(shared = false): Uint8Array {
  const params = [i32, i32, i32, i32, i32, i32, i32];
  return encodeModule(
    [
      { name: "block", params, results: [], locals: blockLocals(2, 4).locals, body: blockBody(F32, 2, 4) },
      { name: "blockI16", params, results: [], locals: blockLocals(...I16_TILE).locals, body: blockBody(I16, ...I16_TILE) },
      { name: "scanGe", params: [i32, i32, i32, i32, i32], results: [i32], locals: [[1, v128]], body: scanBody() },
      { name: "gatherQuantize", params: [i32, i32, i32, f64, i32, i32], results: [], locals: [[4, i32], [2, f64]], body: gatherQuantizeBody() },
      { name: "dotPairs", params: [i32, i32, i32, i32, i32], results: [], locals: [[10, i32], [4, v128]], body: dotPairsBody() },
      { name: "dotRow", params: [i32, i32, i32], results: [f32], locals: [[1, i32], [1, v128]], body: dotRowBody() },
      { name: "dotAll", params: [i32, i32, i32, i32, i32], results: [], locals: [[4, i32], [5, v128]], body: dotAllBody() },
    ],
    shared ? { sharedMaxPages: SHARED_MAX_PAGES } : {},
  );
}

/** The few WebAssembly JS API members used here (tsconfig's lib has no DOM typings). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

type BlockFn = (aOff: number, na: number, bOff: number, nb: number, dp: number, outOff: number, stride: number) => void;

export interface Kernel {
  memory: WasmMemory;
  /**
   * out[(i*stride + j)] = <row a+i, row b+j> for i < na (even), j < nb (multiple of 4);
   * offsets in bytes, dp = padded row length in floats (multiple of 4·UNROLL), out float32.
   */
  block: BlockFn;
  /** The same on int16 rows (dp a multiple of 8·UNROLL), out int32, exact while |sum| < 2³¹. */
  blockI16: BlockFn;
  /** The first k in [from, to), k a multiple of 4, where int32 ptr[k + l] + col[k + l] ≥ t for a lane l < 4; else `to`. */
  scanGe(ptr: number, col: number, from: number, to: number, t: number): number;
  /** dst[k] = int16(nearest(x[order[k]]·s)) for k < p (int32 order at `order`); float64 stats ← [Σ of those x², Σ|dst|]. */
  gatherQuantize(src: number, order: number, p: number, s: number, dst: number, stats: number): void;
  /** out[i] = <row a_i, row b_i> for `count` (a multiple of 4) int32 pairs at `pairs`, rows at base + index·rowBytes; as dotRow rounds it. */
  dotPairs(pairs: number, count: number, base: number, rowBytes: number, out: number): void;
  /** <row at a, row at b> over `bytes` bytes (a multiple of 16), bit-identical to `block` and dotF32. */
  dotRow(a: number, b: number, bytes: number): number;
  /** out[r] = <row r, q> for r < n (a multiple of 4), rows at `rows` with stride and length rowBytes (a multiple of 16); byte offsets; each value as dotRow gives it. */
  dotAll(rows: number, n: number, rowBytes: number, q: number, out: number): void;
  /** Grows the memory to hold at least `bytes`; views on `memory.buffer` must be re-taken after. */
  reserve(bytes: number): void;
}

const modules: Array<object | undefined> = [undefined, undefined];
/** The compiled module (for a private or a shared memory); it can be posted to worker threads. */
export function kernelModule(shared = false): object {
  const k = shared ? 1 : 0;
  modules[k] ??= new wasm.Module(kernelBytes(shared));
  return modules[k]!;
}

/** A memory that kernels on several threads can share (grows up to 1 GB). */
export function sharedMemory(): WasmMemory {
  return new wasm.Memory({ initial: 1, maximum: SHARED_MAX_PAGES, shared: true });
}

/** A kernel on its own memory, or on a shared one from sharedMemory(). */
export function createKernel(memory?: WasmMemory): Kernel {
  const shared = memory !== undefined;
  memory ??= new wasm.Memory({ initial: 1 });
  const instance = new wasm.Instance(kernelModule(shared), { env: { memory } });
  return {
    memory,
    block: instance.exports.block as BlockFn,
    blockI16: instance.exports.blockI16 as BlockFn,
    scanGe: instance.exports.scanGe as Kernel["scanGe"],
    dotRow: instance.exports.dotRow as Kernel["dotRow"],
    dotPairs: instance.exports.dotPairs as Kernel["dotPairs"],
    gatherQuantize: instance.exports.gatherQuantize as Kernel["gatherQuantize"],
    dotAll: instance.exports.dotAll as Kernel["dotAll"],
    reserve(needed) {
      const have = memory.buffer.byteLength;
      if (needed > have) memory.grow(Math.ceil((needed - have) / 65536));
    },
  };
}

let shared: Kernel | undefined;
/** One kernel instance per thread, reused across calls (its memory only grows). */
export function sharedKernel(): Kernel {
  shared ??= createKernel();
  return shared;
}
