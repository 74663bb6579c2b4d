/**
 * The embedder: an onnxruntime session on the model file with its pooled-feature tensor
 * exposed as a graph output, plus sharp preprocessing. Vectors come out L2-normalised.
 */
import { readFile } from "node:fs/promises";
import ort from "onnxruntime-node";
import type { ModelDescriptor } from "@photo-clusters/core/models";
import { InferenceError, ModelFileError } from "./errors.ts";
import { exposeTensor } from "./onnx-patch.ts";
import { checkContentType, DEFAULT_LIMITS, preprocess, type ImageLimits } from "./preprocess.ts";

export interface EmbedderOptions {
  modelPath: string;
  model: ModelDescriptor;
  /** onnxruntime intraOpNumThreads. 1 by default: on a shared 2-core machine one thread is faster (PROVENANCE timings). */
  threads?: number;
  limits?: Partial<ImageLimits>;
}

export interface Embedder {
  readonly model: ModelDescriptor;
  readonly limits: ImageLimits;
  /** Image bytes → one unit-norm vector of `model.dimension`. */
  embed(bytes: Uint8Array, contentType?: string): Promise<Float32Array>;
  /** Image bytes → the model's input tensor (3×size×size, NCHW float32). */
  preprocess(bytes: Uint8Array, contentType?: string): Promise<Float32Array>;
  /**
   * `count` preprocessed images laid end to end (count×3×size×size) → count unit-norm vectors,
   * row-major in one Float32Array of count×dimension.
   */
  embedTensors(batch: Float32Array, count: number): Promise<Float32Array>;
  close(): Promise<void>;
}

/** Scales each row of `rows` (n×d) to unit length in place; an all-zero row stays all zero. */
export function l2NormaliseRows(rows: Float32Array, d: number): Float32Array {
  for (let r = 0; r < rows.length; r += d) {
    let sum = 0;
    for (let i = r; i < r + d; i++) sum += rows[i]! * rows[i]!;
    if (sum === 0) continue;
    const inv = 1 / Math.sqrt(sum);
    for (let i = r; i < r + d; i++) rows[i] = rows[i]! * inv;
  }
  return rows;
}

/** The feature tensor → n×d floats: mean over H×W for NCHW maps, a copy for NC / NC11. */
export function poolFeatures(data: Float32Array, dims: readonly number[], model: ModelDescriptor): Float32Array {
  const n = dims[0]!;
  const d = model.dimension;
  if (dims[1] !== d) throw new InferenceError(`feature tensor has ${dims[1]} channels; ${model.id} has dimension ${d}`);
  const spatial = model.feature.shape === "NCHW-mean" ? dims.slice(2).reduce((a, b) => a * b, 1) : 1;
  if (data.length !== n * d * spatial) throw new InferenceError(`feature tensor of dims [${dims}] holds ${data.length} values`);
  if (spatial === 1) return data.slice();
  const out = new Float32Array(n * d);
  for (let row = 0; row < n * d; row++) {
    let sum = 0;
    const base = row * spatial;
    for (let k = 0; k < spatial; k++) sum += data[base + k]!;
    out[row] = sum / spatial;
  }
  return out;
}

export async function createEmbedder(options: EmbedderOptions): Promise<Embedder> {
  const { model, modelPath } = options;
  const limits: ImageLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const threads = options.threads ?? 1;
  const p = model.input.preprocessing;
  const inputLength = 3 * p.size * p.size;

  let session: ort.InferenceSession;
  try {
    const bytes = await readFile(modelPath);
    const patched = exposeTensor(bytes, model.feature.tensor);
    session = await ort.InferenceSession.create(patched, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
    });
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ModelFileError(`cannot load ${model.id} from ${modelPath}: ${reason}`, cause);
  }
  if (!session.inputNames.includes(model.input.name) || !session.outputNames.includes(model.feature.tensor)) {
    await session.release();
    throw new ModelFileError(
      `${modelPath} does not look like ${model.id}: inputs [${session.inputNames}], outputs [${session.outputNames}]`,
    );
  }

  async function embedTensors(batch: Float32Array, count: number): Promise<Float32Array> {
    if (count < 1 || batch.length !== count * inputLength) {
      throw new InferenceError(`expected ${count}×${inputLength} input values, got ${batch.length}`);
    }
    const input = new ort.Tensor("float32", batch, [count, 3, p.size, p.size]);
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      result = await session.run({ [model.input.name]: input }, [model.feature.tensor]);
    } catch (cause) {
      throw new InferenceError(`onnxruntime failed on a batch of ${count}`, cause);
    }
    const feature = result[model.feature.tensor] as ort.Tensor;
    const pooled = poolFeatures(feature.data as Float32Array, feature.dims, model);
    feature.dispose();
    return l2NormaliseRows(pooled, model.dimension);
  }

  async function prep(bytes: Uint8Array, contentType?: string): Promise<Float32Array> {
    checkContentType(contentType);
    return preprocess(bytes, p, limits);
  }

  return {
    model,
    limits,
    preprocess: prep,
    embedTensors,
    async embed(bytes, contentType) {
      return embedTensors(await prep(bytes, contentType), 1);
    },
    async close() {
      await session.release();
    },
  };
}
