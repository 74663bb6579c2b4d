/** A growable list of weighted edges in three parallel typed arrays (structure of arrays). */
export class EdgeList {
  a: Uint32Array;
  b: Uint32Array;
  s: Float32Array;
  length = 0;

  constructor(capacity = 1024) {
    this.a = new Uint32Array(capacity);
    this.b = new Uint32Array(capacity);
    this.s = new Float32Array(capacity);
  }

  push(a: number, b: number, s: number): void {
    if (this.length === this.a.length) this.grow(this.length * 2 + 16);
    this.a[this.length] = a;
    this.b[this.length] = b;
    this.s[this.length] = s;
    this.length++;
  }

  /** Appends `count` edges stored as u32 a[count] | u32 b[count] | f32 s[count] at `offset` of `buf`. */
  pushRaw(buf: Uint8Array, offset: number, count: number): void {
    if (this.length + count > this.a.length) this.grow(Math.max(this.a.length * 2, this.length + count));
    const bytes = (arr: Uint32Array | Float32Array) => new Uint8Array(arr.buffer, arr.byteOffset + this.length * 4, count * 4);
    bytes(this.a).set(buf.subarray(offset, offset + 4 * count));
    bytes(this.b).set(buf.subarray(offset + 4 * count, offset + 8 * count));
    bytes(this.s).set(buf.subarray(offset + 8 * count, offset + 12 * count));
    this.length += count;
  }

  private grow(capacity: number): void {
    const a = new Uint32Array(capacity);
    const b = new Uint32Array(capacity);
    const s = new Float32Array(capacity);
    a.set(this.a.subarray(0, this.length));
    b.set(this.b.subarray(0, this.length));
    s.set(this.s.subarray(0, this.length));
    this.a = a;
    this.b = b;
    this.s = s;
  }

  /** Keeps the edges from `from` on that `keep` accepts, in order. */
  retain(keep: (a: number, b: number) => boolean, from = 0): void {
    let out = from;
    for (let i = from; i < this.length; i++) {
      if (!keep(this.a[i], this.b[i])) continue;
      this.a[out] = this.a[i];
      this.b[out] = this.b[i];
      this.s[out] = this.s[i];
      out++;
    }
    this.length = out;
  }

  /** Gives back capacity when more than a tenth of it is unused. */
  shrink(): void {
    if (this.a.length > this.length * 1.1 + 64) this.grow(this.length);
  }

  /** Exact-size copies. */
  trimmed(): { a: Uint32Array; b: Uint32Array; s: Float32Array } {
    return { a: this.a.slice(0, this.length), b: this.b.slice(0, this.length), s: this.s.slice(0, this.length) };
  }
}
