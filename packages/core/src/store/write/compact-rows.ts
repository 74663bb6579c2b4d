/**
 * The writer's compact form of a user's live vectors: one int8 row per photo (a quarter of the
 * float32 row) in a WASM kernel's memory, with what bounds its error. The writer screens a new photo
 * against every row here and re-scores only the rows that could reach the graph's floor, exactly,
 * from their float32 records in the log (a positioned read of 4·d bytes each), so the graph it keeps
 * is the one float32 vectors give, at a quarter of their memory.
 *
 * A row x is stored as q = round(x·s), s = 127 / max|x| (q = 0 for a zero row), with |x − q/s| ≤ ½/s
 * per dimension. For rows a, b with y = q/s and e = x − y:
 *   x_a·x_b = y_a·y_b + y_a·e_b + e_a·x_b,   |y_a·e_b| ≤ ½|q_a|₁/(s_a s_b),
 *   |e_a·x_b| ≤ ½/s_a · |x_b|₁ ≤ ½/s_a · (|q_b|₁ + ½d)/s_b,
 * so |x_a·x_b − Q/(s_a s_b)| ≤ (½|q_a|₁ + ½|q_b|₁ + ¼d)/(s_a s_b), Q = Σ q_a q_b exact in int32.
 * The float32 dot the graph holds (dotF32) is within δ = (d/4 + 3)·2⁻²²·|x_a||x_b| of the real one
 * (the screen's bound, screen.ts). A pair can reach the floor in float32 only if
 *   Q/(s_a s_b) + (½|q_a|₁ + ½|q_b|₁ + ¼d)/(s_a s_b) + δ ≥ floor;
 * every other pair is dropped, every pair that passes is computed again exactly.
 */
import { createKernel, type Kernel } from "../../similarity/kernel.ts";

/** Slack on top of the proven bound, for the double arithmetic that evaluates it. */
const SLACK = 1e-9;

export class CompactRows {
  private readonly kernel: Kernel = createKernel();
  /** Bytes a row takes in the kernel's memory: d rounded up to 16. */
  readonly rowBytes: number;
  private cap = 0;
  private q: Int8Array<ArrayBufferLike> = new Int8Array(0);
  /** 1/s per row (0 for a zero row), |q|₁ and |x| per row. */
  private inv = new Float64Array(0);
  private l1 = new Float64Array(0);
  private norm = new Float64Array(0);
  private readonly query: Int8Array;
  private queryInv = 0;
  private queryL1 = 0;
  private queryNorm = 0;

  constructor(
    readonly d: number,
    capacity: number,
  ) {
    this.rowBytes = (d + 15) & ~15;
    this.query = new Int8Array(this.rowBytes);
    this.ensureRows(capacity);
  }

  /** Bytes held for `rows` rows: the kernel's memory and the per-row bounds. */
  static bytesFor(d: number, rows: number): number {
    return rows * (((d + 15) & ~15) + 24 + 4);
  }

  get bytes(): number {
    return CompactRows.bytesFor(this.d, this.cap);
  }

  /** Room for `count` rows (kept), rounded up to 4 for the kernel. */
  ensureRows(count: number): void {
    const want = (count + 3) & ~3;
    if (want <= this.cap) return;
    // An eighth more each time: rows added one at a time copy O(n) bytes in all, and a user whose
    // capacity was fitted to its log does not jump to twice its memory on its next photos.
    const cap = Math.max(want, 4, (this.cap + (this.cap >> 3) + 63) & ~3);
    // The rows, the query row, then one int32 result per row.
    this.kernel.reserve(cap * this.rowBytes + this.rowBytes + cap * 4);
    const grow = (a: Float64Array) => {
      const next = new Float64Array(cap);
      next.set(a);
      return next;
    };
    this.inv = grow(this.inv);
    this.l1 = grow(this.l1);
    this.norm = grow(this.norm);
    this.cap = cap;
    this.q = new Int8Array(this.kernel.memory.buffer);
  }

  /** Stores `vector` (d float32 values at `offset` of `values`) as row `row`. */
  set(row: number, values: Float32Array, offset = 0): void {
    this.q = this.view();
    const at = row * this.rowBytes;
    const [inv, l1, norm] = quantize(values, offset, this.d, this.q, at);
    this.inv[row] = inv;
    this.l1[row] = l1;
    this.norm[row] = norm;
  }

  /** Row `from` copied over row `to`. */
  move(from: number, to: number): void {
    this.q = this.view();
    this.q.copyWithin(to * this.rowBytes, from * this.rowBytes, (from + 1) * this.rowBytes);
    this.inv[to] = this.inv[from];
    this.l1[to] = this.l1[from];
    this.norm[to] = this.norm[from];
  }

  /**
   * Marks in `out` (0 or 1) each of the first n rows whose float32 dot with `vector` may reach
   * `floor`: the rows to compute again exactly. Every row that does reach it is marked.
   */
  candidates(vector: Float32Array, n: number, floor: number, out: Uint8Array): Uint8Array {
    const d = this.d;
    const q = this.view();
    const queryAt = this.cap * this.rowBytes;
    const outAt = queryAt + this.rowBytes;
    [this.queryInv, this.queryL1, this.queryNorm] = quantize(vector, 0, d, this.query, 0);
    q.set(this.query, queryAt);
    const n4 = (n + 3) & ~3;
    this.kernel.dotAllI8(0, n4, this.rowBytes, queryAt, outAt);
    const dots = new Int32Array(this.kernel.memory.buffer, outAt, n4);
    const delta = (d / 4 + 3) * 2 ** -22;
    for (let r = 0; r < n; r++) {
      const scale = this.inv[r] * this.queryInv;
      const bound = (0.5 * (this.l1[r] + this.queryL1) + 0.25 * d) * scale + delta * this.norm[r] * this.queryNorm + SLACK;
      out[r] = dots[r] * scale + bound >= floor ? 1 : 0;
    }
    return out;
  }

  /** The kernel's whole memory as int8: rows, then the query row, then the int32 results. */
  private view(): Int8Array<ArrayBufferLike> {
    // The memory may have grown (a new buffer) since the view was taken.
    if (this.q.buffer !== this.kernel.memory.buffer) this.q = new Int8Array(this.kernel.memory.buffer);
    return this.q;
  }
}

/** q = round(x·s) into `out` at `at` (the padding zeroed); returns [1/s, |q|₁, |x|]. */
function quantize(values: Float32Array, offset: number, d: number, out: Int8Array, at: number): [number, number, number] {
  let max = 0;
  let sq = 0;
  for (let k = 0; k < d; k++) {
    const x = values[offset + k]!;
    const a = Math.abs(x);
    if (a > max) max = a;
    sq += x * x;
  }
  const rowBytes = (d + 15) & ~15;
  out.fill(0, at, at + rowBytes);
  if (max === 0 || !Number.isFinite(max)) return [0, 0, Math.sqrt(sq)];
  const s = 127 / max;
  let l1 = 0;
  for (let k = 0; k < d; k++) {
    // Math.round and Math.abs as integer arithmetic, four times faster here (a first append quantises
    // every row): |x·s| ≤ 127, so x·s + 128.5 is positive and truncating it gives floor(x·s + ½) + 128.
    // The sum's rounding can only make |x·s − q| exceed ½ by 2⁻⁴⁵, far inside SLACK.
    const v = ((values[offset + k]! * s + 128.5) | 0) - 128;
    out[at + k] = v;
    const sign = v >> 31;
    l1 += (v ^ sign) - sign;
  }
  return [1 / s, l1, Math.sqrt(sq)];
}
