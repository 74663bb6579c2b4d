/**
 * The pairwise dot-product kernels: hand-written WASM SIMD with register blocking (float32 2×4
 * unrolled twice, running row pointers; int16 2×4 on rows packed in panels of four), and tiles of
 * 128 rows (64 to 256 measure the same).
 *
 * `block` (f32x4) computes out[i][j] = <A_i, B_j> for a tile of rows held in the module's memory.
 * Rows are zero-padded to a multiple of 8 floats (8 int16), so the inner loop has no tail. Each dot is
 * accumulated in four f32 lanes (lane l takes k ≡ l mod 4, in order) and reduced as
 * (l0 + l1) + (l2 + l3); `dotF32` in dot.ts reproduces this bit for bit in plain JavaScript,
 * so the stored graph (whose pairs the writer re-scores with dotF32) and the exact path agree to the last bit.
 *
 * `blockI16` does the same on int16-quantised rows with i32x4.dot_i16x8_s (8 products per
 * instruction, twice the f32 rate), exactly in int32, the rows packed four by four (blockI16Body): edgesAbove uses it on a prefix of the
 * dimensions to screen pairs with a proven bound (screen.ts), then recomputes the survivors with
 * the f32 arithmetic above (dotPairs). dotAll runs one row against all rows (`similar`); dotAllI8 one
 * int8 row against all (the store writer's screen, compact-rows.ts).
 */
import { encodeModule, f32, i32, op, v128, type Bytes } from "./wasm-encoder.ts";

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
  return {
    ar,
    br,
    or,
    p,
    acc,
    va,
    vb,
    locals: [
      [acc - 7, i32],
      [ra * rb + ra + 1, v128],
    ] as Array<[number, number]>,
  };
}

interface Flavour {
  /** log2 of the element size in bytes. */
  shift: number;
  /** 16-byte vectors per row consumed by one step of a block kernel's inner loop. */
  unroll: number;
  /** acc ← acc + va·vb, with acc, va, vb on the stack in that order. */
  mulAdd: Bytes[];
  /** One accumulator's lanes summed as (l0 + l1) + (l2 + l3), left on the stack. */
  reduce: (acc: number) => Bytes[];
  store: (offset: number) => Bytes;
}

const lanes = (acc: number, extract: (l: number) => Bytes, addOp: Bytes): Bytes[] => [
  op.localGet(acc),
  extract(0),
  op.localGet(acc),
  extract(1),
  addOp,
  op.localGet(acc),
  extract(2),
  op.localGet(acc),
  extract(3),
  addOp,
  addOp,
];
const F32: Flavour = {
  shift: 2,
  unroll: 2,
  mulAdd: [op.f32x4Mul, op.f32x4Add],
  reduce: (acc) => lanes(acc, op.f32x4ExtractLane, op.f32Add),
  store: op.f32Store,
};
const I16: Flavour = {
  shift: 1,
  unroll: 1,
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

function microStep(f: Flavour, ra: number, rb: number): Bytes[] {
  const L = blockLocals(ra, rb);
  const steps: Bytes[] = [];
  for (let u = 0; u < f.unroll; u++) {
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
  for (let x = 0; x < ra + rb; x++) steps.push(...set(L.p + x, ...add(get(L.p + x), op.i32Const(16 * f.unroll))));
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
  perJ.push(...set(L.or, get(OUT), get(I), get(STRIDE), op.i32Mul, get(J), op.i32Add, op.i32Const(2), op.i32Shl, op.i32Add));
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
 * blockI16: `block` on int16 rows packed in panels of four rows (gather16Packed): chunk c (8 values)
 * of row r at (r & ~3)·rowBytes + 64c + 16·(r & 3). Its 2×4 register tile reads its six row chunks
 * through two running pointers with constant offsets, not six pointers (row-major rows): at n = 2000
 * real embeddings, p = 560, 31 against 35 ms; 3×4 and 4×4 tiles spill registers (V8 uses 16 xmm).
 */
function blockI16Body(): Bytes[] {
  const [PANEL, AP, PA, PB, END, OR] = [9, 10, 11, 12, 13, 14];
  const ACC = 15; // eight accumulators (row r, column c at ACC + 4r + c), then two A chunks and one B chunk
  const [VA, VB] = [ACC + 8, ACC + 10];
  const step: Bytes[] = [...set(VA, get(PA), op.v128Load(0)), ...set(VA + 1, get(PA), op.v128Load(16))];
  for (let c = 0; c < 4; c++) {
    step.push(...set(VB, get(PB), op.v128Load(16 * c)));
    for (let r = 0; r < 2; r++) step.push(...set(ACC + 4 * r + c, get(ACC + 4 * r + c), get(VA + r), get(VB), ...I16.mulAdd));
  }
  // Unrolled twice it runs slower under V8 (n = 2000 real embeddings, p = 560: 39 against 31 ms).
  step.push(...set(PA, ...add(get(PA), op.i32Const(64))), ...set(PB, ...add(get(PB), op.i32Const(64))));
  const perJ: Bytes[] = [
    ...set(PA, get(AP)),
    ...set(PB, get(B), get(J), op.i32Const(2), op.i32ShrU, get(PANEL), op.i32Mul, op.i32Add),
    ...set(END, ...add(get(AP), get(PANEL))),
  ];
  for (let a = 0; a < 8; a++) perJ.push(...set(ACC + a, op.v128Const0));
  perJ.push(...whileLt(PA, END, step));
  perJ.push(...set(OR, get(OUT), get(I), get(STRIDE), op.i32Mul, get(J), op.i32Add, op.i32Const(2), op.i32Shl, op.i32Add));
  for (let r = 0; r < 2; r++) {
    for (let c = 0; c < 4; c++) perJ.push(get(OR), ...I16.reduce(ACC + 4 * r + c), I16.store(4 * c));
    if (r === 0) perJ.push(...set(OR, get(OR), get(STRIDE), op.i32Const(2), op.i32Shl, op.i32Add));
  }
  perJ.push(...set(J, ...add(get(J), op.i32Const(4))));
  const perI: Bytes[] = [
    ...set(
      AP,
      get(A),
      get(I),
      op.i32Const(2),
      op.i32ShrU,
      get(PANEL),
      op.i32Mul,
      op.i32Add,
      get(I),
      op.i32Const(3),
      op.i32And,
      op.i32Const(4),
      op.i32Shl,
      op.i32Add,
    ),
    ...set(J, op.i32Const(0)),
    ...whileLt(J, NB, perJ),
    ...set(I, ...add(get(I), op.i32Const(2))),
  ];
  return [...set(PANEL, get(DP), op.i32Const(3), op.i32Shl), ...set(I, op.i32Const(0)), ...whileLt(I, NA, perI)];
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
    op.block,
    op.loop,
    get(FROM),
    get(TO),
    op.i32LtU,
    op.i32Eqz,
    op.brIf(1),
    ...at(PTR),
    ...at(COL),
    op.i32x4Add,
    get(TV),
    op.i32x4GeS,
    op.v128AnyTrue,
    op.brIf(1),
    ...set(FROM, ...add(get(FROM), op.i32Const(4))),
    op.br(0),
    op.end,
    op.end,
    get(FROM),
  ];
}

/**
 * dotPairs(pairs, count, base, rowBytes, out): out[i] = <row a_i, row b_i> for the count (a multiple
 * of 4) int32 pairs (a_i, b_i) at `pairs`, rows at base + index·rowBytes. Four pairs at a time, each
 * in its own accumulator rounded exactly as dotRow rounds it (float32), or exact in int32 (int16 rows).
 */
function dotPairsBody(f: Flavour): Bytes[] {
  const [PAIRS, COUNT, BASE, RB, OUT, I, K] = [0, 1, 2, 3, 4, 5, 6];
  const PA = 7; // four A row addresses, four B row addresses
  const PB = 11;
  const ACC = 15;
  const rowAt = (offset: number): Bytes[] => [
    get(BASE),
    get(PAIRS),
    get(I),
    op.i32Const(3),
    op.i32Shl,
    op.i32Add,
    op.i32Load(offset),
    get(RB),
    op.i32Mul,
    op.i32Add,
  ];
  const perGroup: Bytes[] = [];
  for (let p = 0; p < 4; p++) perGroup.push(...set(PA + p, ...rowAt(8 * p)), ...set(PB + p, ...rowAt(8 * p + 4)), ...set(ACC + p, op.v128Const0));
  const step: Bytes[] = [];
  for (let p = 0; p < 4; p++) {
    step.push(...set(ACC + p, get(ACC + p), ...add(get(PA + p), get(K)), op.v128Load(), ...add(get(PB + p), get(K)), op.v128Load(), ...f.mulAdd));
  }
  perGroup.push(...set(K, op.i32Const(0)), ...whileLt(K, RB, [...step, ...set(K, ...add(get(K), op.i32Const(16)))]));
  for (let p = 0; p < 4; p++) perGroup.push(get(OUT), get(I), op.i32Const(2), op.i32Shl, op.i32Add, ...f.reduce(ACC + p), f.store(4 * p));
  perGroup.push(...set(I, ...add(get(I), op.i32Const(4))));
  return [...set(I, op.i32Const(0)), ...whileLt(I, COUNT, perGroup)];
}

/**
 * quantizeRows(src, n, srcBytes, s, mask, dst, dstBytes, len, l1, pre): for each of the n float32
 * rows at src + r·srcBytes (len floats, a multiple of 8), dst row r (int16, at dst + r·dstBytes) =
 * nearest(fl32(x·s)) and int32 l1[r] = Σ|dst|; float32 pre[r] = Σ x²·mask over the row, in four
 * lanes reduced as (l0 + l1) + (l2 + l3) (mask: len floats, each 0 or 1). Values must stay in int16.
 */
function quantizeRowsBody(): Bytes[] {
  const [SRC, N, SB, S, MASK, DST, DB, LEN, L1, PRE] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [R, K, END, PS, PD] = [10, 11, 12, 13, 14];
  const [SV, X0, X1, Q0, Q1, AL, AE] = [15, 16, 17, 18, 19, 20, 21];
  const quant = (x: number, q: number): Bytes[] => set(q, get(x), get(SV), op.f32x4Mul, op.f32x4Nearest, op.i32x4TruncSatF32x4S);
  const energy = (x: number, maskOffset: number): Bytes[] =>
    set(AE, get(AE), get(x), get(x), op.f32x4Mul, get(MASK), get(K), op.i32Add, op.v128Load(maskOffset), op.f32x4Mul, op.f32x4Add);
  const step: Bytes[] = [
    ...set(X0, get(PS), get(K), op.i32Add, op.v128Load()),
    ...set(X1, get(PS), get(K), op.i32Add, op.v128Load(16)),
    ...energy(X0, 0),
    ...energy(X1, 16),
    ...quant(X0, Q0),
    ...quant(X1, Q1),
    ...set(AL, get(AL), get(Q0), op.i32x4Abs, op.i32x4Add, get(Q1), op.i32x4Abs, op.i32x4Add),
    get(PD),
    get(K),
    op.i32Const(1),
    op.i32ShrU,
    op.i32Add,
    get(Q0),
    get(Q1),
    op.i16x8NarrowI32x4S,
    op.v128Store(),
    ...set(K, ...add(get(K), op.i32Const(32))),
  ];
  const perRow: Bytes[] = [
    ...set(PS, get(SRC), get(R), get(SB), op.i32Mul, op.i32Add),
    ...set(PD, get(DST), get(R), get(DB), op.i32Mul, op.i32Add),
    ...set(AL, op.v128Const0),
    ...set(AE, op.v128Const0),
    ...set(K, op.i32Const(0)),
    ...whileLt(K, END, step),
    get(L1),
    get(R),
    op.i32Const(2),
    op.i32Shl,
    op.i32Add,
    ...I16.reduce(AL),
    op.i32Store(),
    get(PRE),
    get(R),
    op.i32Const(2),
    op.i32Shl,
    op.i32Add,
    ...F32.reduce(AE),
    op.f32Store(),
    ...set(R, ...add(get(R), op.i32Const(1))),
  ];
  return [...set(SV, get(S), op.f32x4Splat), ...set(END, get(LEN), op.i32Const(2), op.i32Shl), ...set(R, op.i32Const(0)), ...whileLt(R, N, perRow)];
}

/**
 * gather16(src, srcBytes, order, p, n, dst, dstBytes): dst row r [k] = src row r [order[k]] for
 * k < p, for the n int16 rows (int32 order). gather16Packed writes the dst rows in panels of four
 * (blockI16's layout: value k of row r at (r & ~3)·dstBytes + 64·(k >> 3) + 16·(r & 3) + 2·(k & 7)).
 */
function gather16Body(packed: boolean): Bytes[] {
  const [SRC, SB, ORDER, P, N, DST, DB] = [0, 1, 2, 3, 4, 5, 6];
  const [R, K, PS, PD, END] = [7, 8, 9, 10, 11];
  const at: Bytes[] = packed
    ? [
        get(PD),
        get(K),
        op.i32Const(3),
        op.i32ShrU,
        op.i32Const(6),
        op.i32Shl,
        op.i32Add,
        get(K),
        op.i32Const(7),
        op.i32And,
        op.i32Const(1),
        op.i32Shl,
        op.i32Add,
      ]
    : [get(PD), get(K), op.i32Const(1), op.i32Shl, op.i32Add];
  const row: Bytes[] = packed
    ? [get(DST), get(R), op.i32Const(-4), op.i32And, get(DB), op.i32Mul, op.i32Add, get(R), op.i32Const(3), op.i32And, op.i32Const(4), op.i32Shl, op.i32Add]
    : [get(DST), get(R), get(DB), op.i32Mul, op.i32Add];
  const perK: Bytes[] = [
    ...at,
    get(PS),
    get(ORDER),
    get(K),
    op.i32Const(2),
    op.i32Shl,
    op.i32Add,
    op.i32Load(),
    op.i32Const(1),
    op.i32Shl,
    op.i32Add,
    op.i32Load16S(),
    op.i32Store16(),
    ...set(K, ...add(get(K), op.i32Const(1))),
  ];
  const perRow: Bytes[] = [
    ...set(PS, get(SRC), get(R), get(SB), op.i32Mul, op.i32Add),
    ...set(PD, ...row),
    ...set(K, op.i32Const(0)),
    ...whileLt(K, END, perK),
    ...set(R, ...add(get(R), op.i32Const(1))),
  ];
  return [...set(END, get(P)), ...set(R, op.i32Const(0)), ...whileLt(R, N, perRow)];
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

/**
 * dotAllI8(rows, n, rowBytes, q, out): int32 out[r] = Σ row r · q over int8 rows of rowBytes bytes (a
 * multiple of 16) for r < n (a multiple of 4), exact: each byte pair widened to int16, multiplied and
 * summed in int32 (|sum| ≤ 127²·rowBytes). The store's compact rows (compact-rows.ts) screen with it.
 */
function dotAllI8Body(): Bytes[] {
  const [ROWS, N, RB, Q, OUT, R, K, P0, END] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const ACC = 9; // four accumulators, then the query's low and high halves, then one row's vector
  const [VQL, VQH, V] = [13, 14, 15];
  const step: Bytes[] = [
    ...set(VQL, ...add(get(Q), get(K)), op.v128Load(), op.i16x8ExtendLowI8x16S),
    ...set(VQH, ...add(get(Q), get(K)), op.v128Load(), op.i16x8ExtendHighI8x16S),
  ];
  for (let i = 0; i < 4; i++) {
    const addr: Bytes[] = i === 0 ? add(get(P0), get(K)) : [get(P0), get(RB), op.i32Const(i), op.i32Mul, op.i32Add, get(K), op.i32Add];
    step.push(
      ...set(V, ...addr, op.v128Load()),
      ...set(
        ACC + i,
        get(ACC + i),
        get(V),
        op.i16x8ExtendLowI8x16S,
        get(VQL),
        op.i32x4DotI16x8S,
        op.i32x4Add,
        get(V),
        op.i16x8ExtendHighI8x16S,
        get(VQH),
        op.i32x4DotI16x8S,
        op.i32x4Add,
      ),
    );
  }
  const perRow: Bytes[] = [
    ...set(P0, get(ROWS), get(R), get(RB), op.i32Mul, op.i32Add),
    ...[0, 1, 2, 3].flatMap((i) => set(ACC + i, op.v128Const0)),
    ...set(K, op.i32Const(0)),
    ...whileLt(K, RB, [...step, ...set(K, ...add(get(K), op.i32Const(16)))]),
  ];
  for (let i = 0; i < 4; i++) perRow.push(get(OUT), get(R), op.i32Const(2), op.i32Shl, op.i32Add, ...I16.reduce(ACC + i), op.i32Store(4 * i));
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
      {
        name: "blockI16",
        params,
        results: [],
        locals: [
          [8, i32],
          [11, v128],
        ],
        body: blockI16Body(),
      },
      { name: "scanGe", params: [i32, i32, i32, i32, i32], results: [i32], locals: [[1, v128]], body: scanBody() },
      {
        name: "quantizeRows",
        params: [i32, i32, i32, f32, i32, i32, i32, i32, i32, i32],
        results: [],
        locals: [
          [5, i32],
          [7, v128],
        ],
        body: quantizeRowsBody(),
      },
      { name: "gather16", params: [i32, i32, i32, i32, i32, i32, i32], results: [], locals: [[5, i32]], body: gather16Body(false) },
      { name: "gather16Packed", params: [i32, i32, i32, i32, i32, i32, i32], results: [], locals: [[5, i32]], body: gather16Body(true) },
      {
        name: "dotPairs",
        params: [i32, i32, i32, i32, i32],
        results: [],
        locals: [
          [10, i32],
          [4, v128],
        ],
        body: dotPairsBody(F32),
      },
      {
        name: "dotPairsI16",
        params: [i32, i32, i32, i32, i32],
        results: [],
        locals: [
          [10, i32],
          [4, v128],
        ],
        body: dotPairsBody(I16),
      },
      {
        name: "dotRow",
        params: [i32, i32, i32],
        results: [f32],
        locals: [
          [1, i32],
          [1, v128],
        ],
        body: dotRowBody(),
      },
      {
        name: "dotAll",
        params: [i32, i32, i32, i32, i32],
        results: [],
        locals: [
          [4, i32],
          [5, v128],
        ],
        body: dotAllBody(),
      },
      {
        name: "dotAllI8",
        params: [i32, i32, i32, i32, i32],
        results: [],
        locals: [
          [4, i32],
          [7, v128],
        ],
        body: dotAllI8Body(),
      },
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
   * offsets in bytes, dp = padded row length in floats (multiple of 8), out float32.
   */
  block: BlockFn;
  /**
   * The same on int16 rows packed in panels of four (gather16Packed), out int32, exact while
   * |sum| < 2³¹: dp a multiple of 8, a and b offsets of panels (rows multiples of 4), na even, nb a multiple of 4.
   */
  blockI16: BlockFn;
  /** The first k in [from, to), k a multiple of 4, where int32 ptr[k + l] + col[k + l] ≥ t for a lane l < 4; else `to`. */
  scanGe(ptr: number, col: number, from: number, to: number, t: number): number;
  /** For n float32 rows of len floats (a multiple of 8): int16 rows nearest(fl32(x·s)), int32 l1[r] = Σ|q|, float32 pre[r] = Σ x²·mask. */
  quantizeRows(src: number, n: number, srcBytes: number, s: number, mask: number, dst: number, dstBytes: number, len: number, l1: number, pre: number): void;
  /** For n int16 rows: dst row [k] = src row [order[k]] for k < p (int32 order). */
  gather16(src: number, srcBytes: number, order: number, p: number, n: number, dst: number, dstBytes: number): void;
  /** The same, dst rows (n a multiple of 4, p of 8) in blockI16's panels of four. */
  gather16Packed(src: number, srcBytes: number, order: number, p: number, n: number, dst: number, dstBytes: number): void;
  /** out[i] = <row a_i, row b_i> for `count` (a multiple of 4) int32 pairs at `pairs`, rows at base + index·rowBytes; as dotRow rounds it. */
  dotPairs(pairs: number, count: number, base: number, rowBytes: number, out: number): void;
  /** The same on int16 rows, out int32, exact while every |sum| < 2³¹. */
  dotPairsI16(pairs: number, count: number, base: number, rowBytes: number, out: number): void;
  /** <row at a, row at b> over `bytes` bytes (a multiple of 16), bit-identical to `block` and dotF32. */
  dotRow(a: number, b: number, bytes: number): number;
  /** out[r] = <row r, q> for r < n (a multiple of 4), rows at `rows` with stride and length rowBytes (a multiple of 16); byte offsets; each value as dotRow gives it. */
  dotAll(rows: number, n: number, rowBytes: number, q: number, out: number): void;
  /** int32 out[r] = <row r, q> for r < n (a multiple of 4) over int8 rows of rowBytes bytes (a multiple of 16), exact. */
  dotAllI8(rows: number, n: number, rowBytes: number, q: number, out: number): void;
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
    dotPairsI16: instance.exports.dotPairsI16 as Kernel["dotPairsI16"],
    quantizeRows: instance.exports.quantizeRows as Kernel["quantizeRows"],
    gather16: instance.exports.gather16 as Kernel["gather16"],
    gather16Packed: instance.exports.gather16Packed as Kernel["gather16Packed"],
    dotAll: instance.exports.dotAll as Kernel["dotAll"],
    dotAllI8: instance.exports.dotAllI8 as Kernel["dotAllI8"],
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
