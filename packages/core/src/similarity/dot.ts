/**
 * out[r] = <rows[r], query> for each of the n rows of a flat row-major n×d matrix.
 * Plain loop for now; the similarity module owns making it fast.
 */
export function dotAgainstAll(rows: Float32Array, n: number, d: number, query: Float32Array, out: Float32Array): Float32Array {
  if (query.length !== d) throw new RangeError(`query has ${query.length} values, expected ${d}`);
  if (rows.length < n * d) throw new RangeError(`matrix holds ${rows.length} values, expected ${n}×${d}`);
  for (let r = 0; r < n; r++) {
    let s = 0;
    const base = r * d;
    for (let k = 0; k < d; k++) s += rows[base + k] * query[k];
    out[r] = s;
  }
  return out;
}
