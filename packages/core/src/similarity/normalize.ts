/**
 * L2-normalises each row of a flat row-major n×d matrix in place, once, before any similarity.
 * A zero (or non-finite-norm) row stays all zeros: its similarity to everything, itself included,
 * is 0, never NaN.
 */
export function normalizeRows(vectors: Float32Array, n: number, d: number): Float32Array {
  checkMatrix(vectors, n, d);
  for (let r = 0; r < n; r++) {
    const base = r * d;
    let s = 0;
    for (let k = 0; k < d; k++) s += vectors[base + k] * vectors[base + k];
    const inv = s > 0 && Number.isFinite(s) ? 1 / Math.sqrt(s) : 0;
    for (let k = 0; k < d; k++) vectors[base + k] = inv === 0 ? 0 : vectors[base + k] * inv;
  }
  return vectors;
}

/** Throws unless `vectors` holds an n×d matrix of non-negative integer sizes. */
export function checkMatrix(vectors: Float32Array, n: number, d: number): void {
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(d) || d < 1) {
    throw new RangeError(`bad matrix shape ${n}×${d}`);
  }
  if (vectors.length < n * d) throw new RangeError(`matrix holds ${vectors.length} values, expected ${n}×${d}`);
}
