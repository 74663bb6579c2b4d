/**
 * The pairwise dot-product kernel: hand-written WASM SIMD (f32x4), 2×4 register blocking.
 *
 * `block` computes out[i][j] = <A_i, B_j> for a tile of rows held in the module's memory.
 * Rows are zero-padded to a multiple of 4 floats, so the inner loop has no tail. Each dot is
 * accumulated in four f32 lanes (lane l takes k ≡ l mod 4, in order) and reduced as
 * (l0 + l1) + (l2 + l3); `dotF32` in dot.ts reproduces this bit for bit in plain JavaScript,
 * so the stored graph (built with dotAgainstAll) and the exact path agree to the last bit.
 */
import { encodeModule, f32, i32, op, v128, type Bytes } from "./wasm-encoder.ts";

// Parameters, then locals, by index.
const [A, NA, B, NB, DP, OUT, STRIDE] = [0, 1, 2, 3, 4, 5, 6];
const [I, J, K, ROW, A0, A1, B0, B1, B2, B3, O0, O1] = [7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18];
const ACC = 19; // 8 accumulators: ACC + 4*r + c for A row r (0..1), B row c (0..3)
const VA0 = 27;
const VA1 = 28;
const VB = 29;

/** while (local < limit) { body } */
function whileLt(local: number, limit: number, body: Bytes[]): Bytes[] {
  return [op.block, op.loop, op.localGet(local), op.localGet(limit), op.i32LtU, op.i32Eqz, op.brIf(1), ...body, op.br(0), op.end, op.end];
}
const set = (local: number, ...expr: Bytes[]): Bytes[] => [...expr, op.localSet(local)];
const add = (a: Bytes, b: Bytes): Bytes[] => [a, b, op.i32Add];
const get = op.localGet;
const reduce = (acc: number): Bytes[] => [
  get(acc), op.f32x4ExtractLane(0), get(acc), op.f32x4ExtractLane(1), op.f32Add,
  get(acc), op.f32x4ExtractLane(2), get(acc), op.f32x4ExtractLane(3), op.f32Add,
  op.f32Add,
];

function microStep(): Bytes[] {
  const steps: Bytes[] = [
    ...set(VA0, ...add(get(A0), get(K)), op.v128Load()),
    ...set(VA1, ...add(get(A1), get(K)), op.v128Load()),
  ];
  [B0, B1, B2, B3].forEach((b, c) => {
    steps.push(...set(VB, ...add(get(b), get(K)), op.v128Load()));
    for (const [r, va] of [[0, VA0], [1, VA1]] as const) {
      const acc = ACC + 4 * r + c;
      steps.push(get(acc), get(va), get(VB), op.f32x4Mul, op.f32x4Add, op.localSet(acc));
    }
  });
  return steps;
}

function blockBody(): Bytes[] {
  const body: Bytes[] = [...set(ROW, get(DP), op.i32Const(2), op.i32Shl)];
  const perJ: Bytes[] = [
    ...set(B0, get(B), get(J), get(ROW), op.i32Mul, op.i32Add),
    ...set(B1, ...add(get(B0), get(ROW))),
    ...set(B2, ...add(get(B1), get(ROW))),
    ...set(B3, ...add(get(B2), get(ROW))),
    ...Array.from({ length: 8 }, (_, a) => set(ACC + a, op.v128Const0)).flat(),
    ...set(K, op.i32Const(0)),
    ...whileLt(K, ROW, [...microStep(), ...set(K, ...add(get(K), op.i32Const(16)))]),
    ...set(O0, get(OUT), get(I), get(STRIDE), op.i32Mul, get(J), op.i32Add, op.i32Const(2), op.i32Shl, op.i32Add),
    ...set(O1, get(O0), get(STRIDE), op.i32Const(2), op.i32Shl, op.i32Add),
  ];
  for (const [r, o] of [[0, O0], [1, O1]] as const) {
    for (let c = 0; c < 4; c++) perJ.push(get(o), ...reduce(ACC + 4 * r + c), op.f32Store(4 * c));
  }
  perJ.push(...set(J, ...add(get(J), op.i32Const(4))));
  const perI: Bytes[] = [
    ...set(A0, get(A), get(I), get(ROW), op.i32Mul, op.i32Add),
    ...set(A1, ...add(get(A0), get(ROW))),
    ...set(J, op.i32Const(0)),
    ...whileLt(J, NB, perJ),
    ...set(I, ...add(get(I), op.i32Const(2))),
  ];
  body.push(...set(I, op.i32Const(0)), ...whileLt(I, NA, perI));
  return body;
}

let bytes: Uint8Array | undefined;
/** The module's bytes (≈1 KB), built once. */
export function kernelBytes(): Uint8Array {
  bytes ??= encodeModule([
    {
      name: "block",
      params: [i32, i32, i32, i32, i32, i32, i32],
      results: [],
      locals: [[12, i32], [11, v128]],
      body: blockBody(),
    },
  ]);
  return bytes;
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

export interface Kernel {
  memory: WasmMemory;
  /**
   * out[(i*stride + j)] = <row a+i, row b+j> for i < na (even), j < nb (multiple of 4);
   * offsets in bytes, dp = padded row length in floats (multiple of 4).
   */
  block(aOff: number, na: number, bOff: number, nb: number, dp: number, outOff: number, stride: number): void;
  /** Grows the memory to hold at least `bytes`; views on `memory.buffer` must be re-taken after. */
  reserve(bytes: number): void;
}

let module: object | undefined;
export function createKernel(): Kernel {
  module ??= new wasm.Module(kernelBytes());
  const memory = new wasm.Memory({ initial: 1 });
  const instance = new wasm.Instance(module, { env: { memory } });
  const block = instance.exports.block as Kernel["block"];
  return {
    memory,
    block,
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
