/**
 * The embedder: an onnxruntime session on the model file with its pooled-feature tensor
 * exposed as a graph output, plus sharp preprocessing. Vectors come out L2-normalised, after the
 * model's post-processing when it has one.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import ort from "onnxruntime-node";
import { type ModelDescriptor, postprocessRows } from "@photo-clusters/core";
import { InferenceError, ModelFileError } from "./errors.ts";
import { exposeTensor } from "./onnx-patch.ts";
import { checkContentType, decodeToRgb, DEFAULT_LIMITS, normalise, type ImageLimits } from "./preprocess.ts";

export interface EmbedderOptions {
  modelPath: string;
  model: ModelDescriptor;
  /** onnxruntime intraOpNumThreads. 1 by default: on a shared 2-core machine one thread is faster (PROVENANCE timings). */
  threads?: number;
  limits?: Partial<ImageLimits>;
  /**
   * "inline" (default): `session.run` on the calling thread, which blocks its event loop while
   * it computes. "worker": the session runs on a worker thread, so HTTP and preprocessing keep
   * flowing, and requests that arrive while it is busy are coalesced into one run (see
   * `maxBatch`). A lone request is never held back: there is no batching window.
   */
  inference?: "inline" | "worker";
  /** Largest batch the worker coalesces from concurrent `embed` calls (default 8). */
  maxBatch?: number;
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

/**
 * The feature tensor → n×d floats: mean over H×W when `meanSpatial`, a copy otherwise. Self-contained
 * (no imports, plain JavaScript once stripped): the inference worker runs its source text.
 */
export function featureRows(data: Float32Array, dims: readonly number[], d: number, meanSpatial: boolean): Float32Array {
  const n = dims[0]!;
  if (dims[1] !== d) throw new Error(`feature tensor has ${dims[1]} channels; the model has dimension ${d}`);
  const spatial = meanSpatial ? dims.slice(2).reduce((a, b) => a * b, 1) : 1;
  if (data.length !== n * d * spatial) throw new Error(`feature tensor of dims [${dims}] holds ${data.length} values`);
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

/** The feature tensor → n×d floats: mean over H×W for NCHW maps, a copy for NC / NC11. */
export function poolFeatures(data: Float32Array, dims: readonly number[], model: ModelDescriptor): Float32Array {
  try {
    return featureRows(data, dims, model.dimension, model.feature.shape === "NCHW-mean");
  } catch (cause) {
    throw new InferenceError(`${model.id}: ${(cause as Error).message}`, cause);
  }
}

export async function createEmbedder(options: EmbedderOptions): Promise<Embedder> {
  const { model, modelPath } = options;
  const limits: ImageLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const p = model.input.preprocessing;
  const inputLength = 3 * p.size * p.size;
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: options.threads ?? 1,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  };

  let patched: Uint8Array;
  try {
    patched = exposeTensor(await readFile(modelPath), model.feature.tensor);
  } catch (cause) {
    throw new ModelFileError(`cannot load ${model.id} from ${modelPath}: ${cause instanceof Error ? cause.message : String(cause)}`, cause);
  }
  const runner = options.inference === "worker" ? await workerRunner(patched, sessionOptions, options) : await inlineRunner(patched, sessionOptions, options);

  async function embedTensors(batch: Float32Array, count: number): Promise<Float32Array> {
    if (count < 1 || batch.length !== count * inputLength) {
      throw new InferenceError(`expected ${count}×${inputLength} input values, got ${batch.length}`);
    }
    return postprocessRows(await runner.run(batch, count), count, model);
  }

  async function decode(bytes: Uint8Array, contentType?: string): Promise<Uint8Array> {
    checkContentType(contentType);
    return decodeToRgb(bytes, p, limits);
  }

  return {
    model,
    limits,
    preprocess: async (bytes, contentType) => normalise(await decode(bytes, contentType), p),
    embedTensors,
    async embed(bytes, contentType) {
      return postprocessRows(await runner.runRgb(await decode(bytes, contentType)), 1, model);
    },
    close: runner.close,
  };
}

/** `count` input tensors laid end to end → count unit-norm rows. */
interface Runner {
  run(batch: Float32Array, count: number): Promise<Float32Array>;
  /** One decoded image (HWC uint8 RGB, size×size) → its unit-norm row; normalised by `normalise`. */
  runRgb(rgb: Uint8Array): Promise<Float32Array>;
  close(): Promise<void>;
}

function checkNames(inputNames: readonly string[], outputNames: readonly string[], options: EmbedderOptions): void {
  const { model, modelPath } = options;
  if (!inputNames.includes(model.input.name) || !outputNames.includes(model.feature.tensor)) {
    throw new ModelFileError(`${modelPath} does not look like ${model.id}: inputs [${inputNames}], outputs [${outputNames}]`);
  }
}

async function inlineRunner(patched: Uint8Array, sessionOptions: ort.InferenceSession.SessionOptions, options: EmbedderOptions): Promise<Runner> {
  const { model, modelPath } = options;
  const size = model.input.preprocessing.size;
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(patched, sessionOptions);
  } catch (cause) {
    throw new ModelFileError(`cannot load ${model.id} from ${modelPath}: ${cause instanceof Error ? cause.message : String(cause)}`, cause);
  }
  try {
    checkNames(session.inputNames, session.outputNames, options);
  } catch (error) {
    await session.release();
    throw error;
  }
  const run = async (batch: Float32Array, count: number): Promise<Float32Array> => {
    const input = new ort.Tensor("float32", batch, [count, 3, size, size]);
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
  };
  return {
    run,
    runRgb: (rgb) => run(normalise(rgb, model.input.preprocessing), 1),
    close: () => session.release(),
  };
}

/**
 * The worker's source: plain JavaScript (featureRows, l2NormaliseRows and normalise are shipped as
 * their source text), so it needs no loader hooks and no separate file in the bundle. It runs one
 * batch at a time: a message is a list of input tensors or decoded images, the reply their unit-norm rows.
 */
const WORKER_SOURCE = `
const { parentPort, workerData: w } = require("node:worker_threads");
const ort = require(w.ortPath);
const featureRows = ${featureRows.toString()};
const l2NormaliseRows = ${l2NormaliseRows.toString()};
const normalise = ${normalise.toString()};
let scratch = new Float32Array(0);
let chain = Promise.resolve();
ort.InferenceSession.create(w.model, w.sessionOptions).then((session) => {
  parentPort.postMessage({ ready: true, inputNames: session.inputNames, outputNames: session.outputNames });
  const handle = async (m) => {
    try {
      let data = m.tensors[0];
      if (m.tensors.length > 1 || m.rgb[0]) {
        // Decoded images are normalised straight into the reused batch buffer: no tensor is
        // allocated per image on either thread.
        const total = m.count * w.inputLength;
        if (scratch.length < total) scratch = new Float32Array(total);
        let offset = 0;
        m.tensors.forEach((t, i) => {
          if (m.rgb[i]) { normalise(t, w.preprocessing, scratch, offset); offset += w.inputLength; }
          else { scratch.set(t, offset); offset += t.length; }
        });
        data = scratch.subarray(0, total);
      }
      const result = await session.run({ [w.input]: new ort.Tensor("float32", data, [m.count, 3, w.size, w.size]) }, [w.output]);
      const feature = result[w.output];
      const rows = l2NormaliseRows(featureRows(feature.data, feature.dims, w.dimension, w.meanSpatial), w.dimension);
      feature.dispose();
      parentPort.postMessage({ id: m.id, rows }, [rows.buffer]);
    } catch (e) {
      parentPort.postMessage({ id: m.id, error: String((e && e.message) || e) });
    }
  };
  parentPort.on("message", (m) => { chain = chain.then(() => handle(m)); });
}, (e) => parentPort.postMessage({ ready: false, error: String((e && e.message) || e) }));
`;

interface Job {
  /** count input tensors (NCHW float32), or one decoded image (HWC uint8 RGB) when `rgb`. */
  tensor: Float32Array | Uint8Array;
  rgb: boolean;
  count: number;
  resolve(rows: Float32Array): void;
  reject(error: Error): void;
}

async function workerRunner(patched: Uint8Array, sessionOptions: ort.InferenceSession.SessionOptions, options: EmbedderOptions): Promise<Runner> {
  const { model, modelPath } = options;
  const maxBatch = options.maxBatch ?? 8;
  const size = model.input.preprocessing.size;
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    execArgv: [],
    workerData: {
      ortPath: createRequire(import.meta.url).resolve("onnxruntime-node"),
      model: patched,
      sessionOptions,
      input: model.input.name,
      output: model.feature.tensor,
      size,
      inputLength: 3 * size * size,
      preprocessing: model.input.preprocessing,
      dimension: model.dimension,
      meanSpatial: model.feature.shape === "NCHW-mean",
    },
  });

  const queue: Job[] = [];
  const inFlight = new Map<number, Job[]>();
  let nextId = 0;
  let broken: Error | undefined;

  const fail = (error: Error) => {
    broken ??= error;
    for (const job of [...queue, ...[...inFlight.values()].flat()]) job.reject(broken);
    queue.length = 0;
    inFlight.clear();
  };
  // One batch at a time: while it runs, requests queue up and the next batch takes every job
  // waiting, up to maxBatch images (a larger embedTensors call goes alone). Two in flight
  // measured no better (smaller batches).
  const dispatch = () => {
    if (inFlight.size > 0 || queue.length === 0) return;
    const jobs = [queue.shift()!];
    let count = jobs[0]!.count;
    while (queue.length > 0 && count + queue[0]!.count <= maxBatch) {
      count += queue[0]!.count;
      jobs.push(queue.shift()!);
    }
    const id = nextId++;
    inFlight.set(id, jobs);
    worker.ref();
    worker.postMessage({ id, count, tensors: jobs.map((j) => j.tensor), rgb: jobs.map((j) => j.rgb) });
  };

  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number) => reject(new ModelFileError(`the inference worker exited (${code}) while loading ${model.id}`));
    worker.once("error", reject);
    worker.once("exit", onExit);
    worker.once("message", (m: { ready: boolean; error?: string; inputNames?: string[]; outputNames?: string[] }) => {
      worker.off("error", reject);
      worker.off("exit", onExit);
      try {
        if (!m.ready) throw new ModelFileError(`cannot load ${model.id} from ${modelPath}: ${m.error}`);
        checkNames(m.inputNames!, m.outputNames!, options);
        resolve();
      } catch (error) {
        void worker.terminate();
        reject(error);
      }
    });
  });

  worker.on("message", (m: { id: number; rows?: Float32Array; error?: string }) => {
    const jobs = inFlight.get(m.id);
    inFlight.delete(m.id);
    if (!jobs) return;
    if (m.rows) {
      let offset = 0;
      for (const job of jobs) {
        const length = job.count * model.dimension;
        job.resolve(jobs.length === 1 ? m.rows : m.rows.slice(offset, offset + length));
        offset += length;
      }
    } else {
      const count = jobs.reduce((n, j) => n + j.count, 0);
      for (const job of jobs) job.reject(new InferenceError(`onnxruntime failed on a batch of ${count}`, new Error(m.error)));
    }
    if (queue.length === 0 && inFlight.size === 0) worker.unref();
    dispatch();
  });
  worker.on("error", (error) => fail(new InferenceError("the inference worker failed", error)));
  worker.on("exit", (code) => fail(new InferenceError(`the inference worker exited (${code})`)));
  worker.unref();

  const enqueue = (job: Omit<Job, "resolve" | "reject">) => {
    if (broken) return Promise.reject(broken);
    return new Promise<Float32Array>((resolve, reject) => {
      queue.push({ ...job, resolve, reject });
      dispatch();
    });
  };
  return {
    run: (batch, count) => enqueue({ tensor: batch, rgb: false, count }),
    // Copied to the worker: a quarter of the tensor's size, and sharp's buffer is not ours to transfer.
    runRgb: (rgb) => enqueue({ tensor: rgb, rgb: true, count: 1 }),
    async close() {
      fail(new InferenceError("the embedder is closed"));
      await worker.terminate();
    },
  };
}
