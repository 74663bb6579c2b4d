/**
 * Feature post-processing, measured: for each variant (none, mean-centering, PCA whitening to a few
 * dimensions, flip-averaging, and their combinations), pairwise F1 on labelled photos at 0.80, 0.85
 * and 0.90, cross-validated (5 folds by group: the post-processing and the calibration are fitted on
 * the other four folds' photos only) beside in-sample (fitted on all, scored on all); then the cold
 * path's time (clusterVectors at the default threshold, one thread, median of 15) on real embeddings
 * transformed by each variant fitted on all labelled photos, alternating with the untransformed vectors
 * under the built-in defaults (the anchor), so both meet the same load.
 *
 *   pnpm exec tsx scripts/postprocess-cv.ts [photoDir] [--embeddings real.json]
 *
 * photoDir defaults to ../shared/data/dev-photos (groups.csv, file,group); the real embeddings come
 * from scripts/real-embeddings.ts. About a minute on 2 cores, most of it the whitening's fits.
 */
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { crossValidate, fitDefaults, SCORED_THRESHOLDS, scoreAt, type Fit, type LabelledSet } from "../packages/core/src/calibrate/fit.ts";
import { parseGroupsCsv } from "../packages/core/src/evaluate.ts";
import { mobilenetV2Int8 } from "../packages/core/src/models.ts";
import { meanRow, postprocessRows } from "../packages/core/src/postprocess.ts";
import { clusterVectors, edgesAbove } from "../packages/core/src/similarity/index.ts";
import { normalizeRows } from "../packages/core/src/similarity/normalize.ts";
import { createEmbedder } from "../packages/model-server/src/embedder.ts";
import { resolveModelPath } from "../packages/model-server/src/model-file.ts";

interface Evd {
  realEigenvalues: number[];
  eigenvectorMatrix: { get(i: number, j: number): number };
}
const mlMatrix = createRequire(new URL("../packages/core/package.json", import.meta.url))("ml-matrix") as {
  Matrix: new (rows: number, cols: number) => { set(i: number, j: number, v: number): void };
  EigenvalueDecomposition: new (m: unknown, o: { assumeSymmetric: boolean }) => Evd;
};

const args = process.argv.slice(2);
const embeddingsFile = args.includes("--embeddings") ? args[args.indexOf("--embeddings") + 1] : undefined;
const dir = resolve(args.find((a, i) => !a.startsWith("--") && args[i - 1] !== "--embeddings") ?? join(import.meta.dirname, "../../shared/data/dev-photos"));
const model = mobilenetV2Int8;
const d = model.dimension;

// 1. Each labelled photo's embedding, and that of its mirror image (the tensor flipped left to right).
const groupOf = parseGroupsCsv(await readFile(join(dir, "groups.csv"), "utf8"));
const files = (await readdir(dir)).filter((f) => groupOf.has(f)).sort();
const embedder = await createEmbedder({ modelPath: await resolveModelPath(model, { modelPath: process.env.MODEL_PATH }), model });
const size = model.input.preprocessing.size;
const plain = new Float32Array(files.length * d);
const flipped = new Float32Array(files.length * d);
let inferenceMs = 0;
for (const [r, file] of files.entries()) {
  const t = await embedder.preprocess(await readFile(join(dir, file)));
  const t0 = performance.now();
  plain.set(await embedder.embedTensors(t, 1), r * d);
  inferenceMs += performance.now() - t0;
  flipped.set(await embedder.embedTensors(mirror(t, size), 1), r * d);
}
await embedder.close();
const groups = files.map((f) => groupOf.get(f)!);
const n = files.length;
const averaged = new Float32Array(n * d);
for (let i = 0; i < n * d; i++) averaged[i] = plain[i] + flipped[i];
normalizeRows(averaged, n, d);

function mirror(t: Float32Array, s: number): Float32Array {
  const out = new Float32Array(t.length);
  for (let row = 0; row < t.length; row += s) for (let x = 0; x < s; x++) out[row + x] = t[row + s - 1 - x];
  return out;
}

// 2. Post-processing, fitted on some rows and applied to any.
type Transform = (v: Float32Array, rows: number) => Float32Array;
const identity: Transform = (v) => v;

function meanOf(v: Float32Array, rows: number): Float64Array {
  return Float64Array.from(meanRow(v, rows, d));
}

/** Mean-centering as the model server applies it (core's postprocessRows). */
function fitCentering(train: Float32Array, rows: number): Transform {
  const model = { dimension: d, postprocess: { center: meanRow(train, rows, d) } };
  return (v, m) => postprocessRows(v.slice(0, m * d), m, model);
}

/** PCA whitening to `dims` components (fewer when the training rows span fewer): through the rows' Gram matrix, as rows < d. */
function fitWhitening(train: Float32Array, rows: number, dims: number): Transform {
  const mean = meanOf(train, rows);
  const x = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) for (let k = 0; k < d; k++) x[r * d + k] = train[r * d + k] - mean[k];
  const gram = new mlMatrix.Matrix(rows, rows);
  for (let i = 0; i < rows; i++) {
    for (let j = i; j < rows; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += x[i * d + k] * x[j * d + k];
      gram.set(i, j, s);
      gram.set(j, i, s);
    }
  }
  const evd = new mlMatrix.EigenvalueDecomposition(gram, { assumeSymmetric: true });
  const order = evd.realEigenvalues
    .map((l, i) => [l, i] as const)
    .filter(([l]) => l > 1e-6)
    .sort((a, b) => b[0] - a[0])
    .slice(0, dims);
  // Direction i: Xᵀu_i / sqrt(λ_i) (unit); whitened coordinate: <x - mean, direction> / sqrt(λ_i).
  const axes = new Float64Array(order.length * d);
  order.forEach(([lambda, col], c) => {
    for (let r = 0; r < rows; r++) {
      const u = evd.eigenvectorMatrix.get(r, col) / lambda; // 1/sqrt(λ) for the unit direction, 1/sqrt(λ) to whiten
      for (let k = 0; k < d; k++) axes[c * d + k] += u * x[r * d + k];
    }
  });
  const k = order.length;
  return (v, m) => {
    const out = new Float32Array(m * d); // padded with zeros past k, so every variant keeps dimension d
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < k; c++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += (v[r * d + j] - mean[j]) * axes[c * d + j];
        out[r * d + c] = s;
      }
    }
    return normalizeRows(out, m, d);
  };
}

interface Variant {
  name: string;
  vectors: Float32Array;
  fit: (train: Float32Array, rows: number) => Transform;
}
const variants: Variant[] = [
  { name: "none (today)", vectors: plain, fit: () => identity },
  { name: "mean-centering", vectors: plain, fit: fitCentering },
  { name: "PCA whitening, 32 dims", vectors: plain, fit: (t, r) => fitWhitening(t, r, 32) },
  { name: "PCA whitening, 64 dims", vectors: plain, fit: (t, r) => fitWhitening(t, r, 64) },
  { name: "PCA whitening, 128 dims", vectors: plain, fit: (t, r) => fitWhitening(t, r, 128) },
  { name: "PCA whitening, all dims", vectors: plain, fit: (t, r) => fitWhitening(t, r, d) },
  { name: "flip-averaging", vectors: averaged, fit: () => identity },
  { name: "flip-averaging + mean-centering", vectors: averaged, fit: fitCentering },
  { name: "flip-averaging + PCA whitening, 64 dims", vectors: averaged, fit: (t, r) => fitWhitening(t, r, 64) },
];

const asFit =
  (v: Variant): Fit =>
  (train) => {
    const transform = v.fit(train.vectors, train.n);
    const apply = (set: LabelledSet): LabelledSet => ({ ...set, vectors: transform(set.vectors, set.n) });
    return { defaults: fitDefaults(apply(train)), transform: apply };
  };

const fmt = (x: number) => x.toFixed(3);
console.log(
  `${n} photos, ${new Set(groups).size} groups (${dir}); model ${model.id}; inference ${(inferenceMs / n).toFixed(1)} ms a photo (flip-averaging runs it twice)`,
);
console.log(
  "variant | cross-validated F1 at 0.80 / 0.85 / 0.90 | in-sample F1 | fitted cosine knots (all photos), floor | cold ms (anchor ms) | edges ≥ floor",
);
const real = embeddingsFile ? await realVectors(embeddingsFile) : undefined;
for (const v of variants) {
  const set: LabelledSet = { vectors: v.vectors, n, d, groups };
  const cv = crossValidate(set, asFit(v));
  const { defaults, transform } = asFit(v)(set);
  const inSample = SCORED_THRESHOLDS.map((t) => scoreAt(transform(set), defaults, t).f1);
  const knots = defaults
    .calibration!.cosine.slice(1, 4)
    .map((c) => c.toFixed(3))
    .join(" / ");
  let cold = "";
  if (real) {
    // The variant's transform fitted on all labelled photos, applied to the real embeddings (flip-averaging needs re-embedding: not timed).
    const t = v.vectors === plain ? v.fit(plain, n) : undefined;
    if (t) {
      const vectors = t(real.vectors, real.n);
      const opts = { threshold: defaults.threshold, floor: defaults.graphFloor, bands: defaults.bands, calibration: defaults.calibration };
      const anchorOpts = {
        threshold: model.defaults.threshold,
        floor: model.defaults.graphFloor,
        bands: model.defaults.bands,
        calibration: model.defaults.calibration,
      };
      const [ms, anchor] = medians(
        15,
        () => clusterVectors(vectors, real.n, d, opts),
        () => clusterVectors(real.vectors, real.n, d, anchorOpts),
      );
      cold = `${ms.toFixed(0)} (${anchor.toFixed(0)}) | ${edgesAbove(vectors, real.n, d, defaults.graphFloor).a.length}`;
    } else cold = "not timed";
  }
  console.log(`${v.name} | ${cv.map((s) => fmt(s.f1)).join(" / ")} | ${inSample.map(fmt).join(" / ")} | ${knots}, ${defaults.graphFloor} | ${cold}`);
}

async function realVectors(file: string): Promise<{ vectors: Float32Array; n: number }> {
  const dump = JSON.parse(await readFile(file, "utf8")) as { embeddings: Record<string, number[]> };
  const rows = Object.values(dump.embeddings).slice(0, 2000);
  const vectors = new Float32Array(rows.length * d);
  for (const [i, row] of rows.entries()) vectors.set(row, i * d);
  return { vectors: normalizeRows(vectors, rows.length, d), n: rows.length };
}

/** Medians of `runs` timings of f and of g, run alternately so that both meet the same machine load. */
function medians(runs: number, f: () => unknown, g: () => unknown): [number, number] {
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < runs; i++) {
    [f, g].forEach((h, k) => {
      const t0 = performance.now();
      h();
      times[k].push(performance.now() - t0);
    });
  }
  return [times[0].sort((a, b) => a - b)[runs >> 1], times[1].sort((a, b) => a - b)[runs >> 1]];
}
