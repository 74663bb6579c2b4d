/** A model's post-processing (see ModelDescriptor.postprocess), applied to unit-norm rows in place. */
import type { ModelDescriptor } from "./models.ts";
import { normalizeRows } from "./similarity/normalize.ts";

/** n×d unit-norm rows → the same rows centred on the model's mean and normalised again; unchanged without post-processing. */
export function postprocessRows(rows: Float32Array, n: number, model: Pick<ModelDescriptor, "dimension" | "postprocess">): Float32Array {
  const center = model.postprocess?.center;
  if (!center) return rows;
  const d = model.dimension;
  for (let r = 0; r < n; r++) for (let k = 0; k < d; k++) rows[r * d + k] -= center[k];
  return normalizeRows(rows, n, d);
}

/** The mean of n×d rows, the `center` a centred model subtracts. */
export function meanRow(rows: Float32Array, n: number, d: number): number[] {
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let k = 0; k < d; k++) mean[k] += rows[r * d + k];
  return Array.from(mean, (x) => Number((x / n).toPrecision(7)));
}
