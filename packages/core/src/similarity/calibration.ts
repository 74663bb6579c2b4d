/**
 * Per-model calibration: a monotone piecewise-linear map from raw cosine to the similarity
 * the API speaks (threshold, minSimilarity, meanSimilarity, bands). It lets one threshold
 * scale mean the same grouping strength for models whose cosines sit in different ranges.
 * The stored graph and its floor stay in raw cosine, so a new calibration needs no rebuild.
 */
export interface Calibration {
  /** Knots in raw cosine, strictly increasing. */
  cosine: readonly number[];
  /** The similarity at each knot, strictly increasing. */
  similarity: readonly number[];
}

function interpolate(x: number, from: readonly number[], to: readonly number[]): number {
  const last = from.length - 1;
  if (x <= from[0]) return to[0] + (x - from[0]);
  if (x >= from[last]) return to[last] + (x - from[last]);
  let i = 1;
  while (from[i] < x) i++;
  const t = (x - from[i - 1]) / (from[i] - from[i - 1]);
  return to[i - 1] + t * (to[i] - to[i - 1]);
}

/** Raw cosine → API similarity (identity without a calibration). */
export function toSimilarity(cosine: number, calibration?: Calibration): number {
  return calibration ? interpolate(cosine, calibration.cosine, calibration.similarity) : cosine;
}

/** API similarity → raw cosine; the inverse of toSimilarity. */
export function toCosine(similarity: number, calibration?: Calibration): number {
  return calibration ? interpolate(similarity, calibration.similarity, calibration.cosine) : similarity;
}

export function checkCalibration(c: Calibration): void {
  const ok =
    c.cosine.length >= 2 &&
    c.cosine.length === c.similarity.length &&
    c.cosine.every((v, i) => i === 0 || v > c.cosine[i - 1]) &&
    c.similarity.every((v, i) => i === 0 || v > c.similarity[i - 1]);
  if (!ok) throw new RangeError("calibration knots must be two strictly increasing lists of equal length");
}
