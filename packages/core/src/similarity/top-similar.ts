/** "Similar images to this one": the most similar other rows to one row, best first. */
import { InvalidParameterError } from "../errors.ts";
import { type Calibration, toSimilarity } from "./calibration.ts";
import { dotAgainstAll } from "./dot.ts";
import { checkMatrix } from "./normalize.ts";

export interface Neighbour {
  index: number;
  /** On the calibrated scale when a calibration is given, else raw cosine. */
  similarity: number;
}

/** Up to `limit` other rows by similarity to row `index`, descending, ties by ascending index. */
export function topSimilar(vectors: Float32Array, n: number, d: number, index: number, limit: number, calibration?: Calibration): Neighbour[] {
  checkMatrix(vectors, n, d);
  if (!Number.isInteger(index) || index < 0 || index >= n) throw new InvalidParameterError(`index must be in 0..${n - 1}, got ${index}`);
  if (!Number.isInteger(limit) || limit < 0) throw new InvalidParameterError(`limit must be a non-negative integer, got ${limit}`);
  const scores = dotAgainstAll(vectors, n, d, vectors.subarray(index * d, index * d + d), new Float32Array(n));
  // Bounded insertion into a sorted list: O(n + hits·limit), limit is small.
  const best: number[] = [];
  const better = (i: number, j: number) => scores[i] > scores[j] || (scores[i] === scores[j] && i < j);
  for (let i = 0; i < n && limit > 0; i++) {
    if (i === index) continue;
    if (best.length === limit && !better(i, best[limit - 1])) continue;
    let p = best.length === limit ? limit - 1 : best.length;
    while (p > 0 && better(i, best[p - 1])) {
      best[p] = best[p - 1];
      p--;
    }
    best[p] = i;
  }
  return best.map((i) => ({ index: i, similarity: toSimilarity(scores[i], calibration) }));
}
