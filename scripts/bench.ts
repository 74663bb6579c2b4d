/**
 * Similarity and clustering benchmarks. `pnpm bench` prints one JSON line per case:
 * {"case","n","d","median_ms","min_ms","runs",...}. `pnpm bench --kernels` adds the kernel
 * comparison (plain JS loops, WASM SIMD f32 and int16, ml-matrix). `--quick` runs fewer sizes.
 * `--edge` runs only what a 12 MP JPEG or HEIC costs at the edge (bench-edge.ts; `pnpm cost` prices it).
 * `--exact` runs only the exact path below the graph's floor (bench-exact.ts: its cost per photo and
 * per pair, and a request at the limits the dev and prod API functions get).
 * `--serve` runs only the serving cases (bench-serve.ts: first request, after a write, warm, writer
 * appends, memory per cached user) at n = 2000, 10000, 50000 and 100000 (`--large`: and 200000), d = 2048.
 * `--embeddings <file.json>` runs only cold-file: the cold case on the first 500, 1000 and 2000
 * rows (`--quick`: 2000) of a file of real embeddings ({"dimension", "embeddings": {name: number[]}};
 * scripts/real-embeddings.ts makes one), at 1 and 2 threads, interleaved run by run with the
 * scikit-learn anchor on the same rows (scripts/bench-sklearn.py --serve: cosine_similarity at the
 * same cut, threshold, connected components), with the ratio ours / scikit-learn and the OpenBLAS
 * kernel that ran.
 * Other processes share the cores: read medians, and min_ms as the uncontended estimate.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { mobilenetV2Int8 } from "../packages/core/src/models.ts";
import {
  clusterEdges,
  clusterOptionsFor,
  clusterVectors,
  clusterVectorsParallel,
  dotF32,
  EdgeBuffer,
  edgesAbove,
  edgesAboveParallel,
} from "../packages/core/src/similarity/index.ts";
import { strongCut } from "../packages/core/src/similarity/cluster.ts";
import { normalizeRows } from "../packages/core/src/similarity/normalize.ts";
import { clusteredEdges, clusteredVectors } from "../packages/core/src/similarity/synthetic.ts";
import { benchAppend } from "../packages/core/bench/bench-append.ts";
import { benchApi } from "../packages/functions/bench/bench-api.ts";
import { benchExact } from "../packages/functions/bench/bench-exact.ts";
import { benchServe } from "../packages/functions/bench/bench-serve.ts";
import { stageSettings } from "../stacks/stages.ts";
import { benchBackfill } from "../packages/local/bench/bench-backfill.ts";
import { benchEdge } from "./bench-edge.ts";

/** ml-matrix is a devDependency of core, so it resolves from there. */
interface MlMatrix {
  mmul(other: MlMatrix): MlMatrix;
  transpose(): MlMatrix;
  get(i: number, j: number): number;
}
const { Matrix } = createRequire(new URL("../packages/core/package.json", import.meta.url))("ml-matrix") as {
  Matrix: new (rows: number[][]) => MlMatrix;
};

const argv = process.argv.slice(2);
const args = new Set(argv);
const embeddingsFile = argv.includes("--embeddings") ? argv[argv.indexOf("--embeddings") + 1] : undefined;
const quick = args.has("--quick");
const model = mobilenetV2Int8;
const opts = clusterOptionsFor(model); // threshold 0.85 (calibrated), floor 0.75

type Timing = { median_ms: number; min_ms: number; runs: number };
const round = (x: number) => Math.round(x * 100) / 100;
const summary = (times: number[], runs: number): Timing => {
  times.sort((a, b) => a - b);
  return { median_ms: round(times[times.length >> 1]), min_ms: round(times[0]), runs };
};

function measure(runs: number, f: () => unknown): Timing {
  f(); // warm-up: JIT, WASM compile, memory growth
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    f();
    times.push(performance.now() - start);
  }
  return summary(times, runs);
}

async function measureAsync(runs: number, f: () => Promise<unknown>): Promise<Timing> {
  await f(); // warm-up, and worker start-up
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await f();
    times.push(performance.now() - start);
  }
  return summary(times, runs);
}

function print(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(fields)}\n`);
}

/** Half the n×n dot products (a < b), counted as 2·d flops each. */
const gflops = (n: number, d: number, ms: number) => Math.round(((((n * (n - 1)) / 2) * d * 2) / (ms * 1e6)) * 10) / 10;

/** Exact clustering from vectors: one thread (clusterVectors), then both cores (clusterVectorsParallel). */
async function cold(): Promise<void> {
  const ns = quick ? [2000] : [1000, 2000, 5000];
  const ds = quick ? [1280] : [512, 1280, 2048];
  for (const n of ns) {
    for (const d of ds) {
      const { vectors } = clusteredVectors({ n, d, seed: n + d });
      const runs = n >= 5000 ? 3 : 7;
      const r = measure(runs, () => clusterVectors(vectors, n, d, opts));
      print({ case: "cold", n, d, ...r, clusters: clusterVectors(vectors, n, d, opts).length });
      const p = await measureAsync(runs, () => clusterVectorsParallel(vectors, n, d, opts, { threads: 2 }));
      print({ case: "cold-2threads", n, d, ...p });
    }
  }
}

/** The scikit-learn anchor as a child process that runs once per request (scripts/bench-sklearn.py --serve). */
interface Anchor {
  run(threads: number): Promise<{ ms: number; components: number; blas: Array<Record<string, unknown>> }>;
  close(): void;
}

/**
 * Debian's python3 with python3-sklearn, on the same float32 rows. OPENBLAS_CORETYPE and
 * OPENBLAS_L2_SIZE are removed from its environment only, so OpenBLAS picks this CPU's own kernel.
 */
function startAnchor(vectors: Float32Array, n: number, d: number, threshold: number): Anchor | undefined {
  const python = "/usr/bin/python3";
  if (!existsSync(python)) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "bench-anchor-"));
  const rowsFile = join(dir, "rows.f32");
  writeFileSync(rowsFile, new Uint8Array(vectors.buffer, vectors.byteOffset, n * d * 4));
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const script = new URL("./bench-sklearn.py", import.meta.url).pathname;
  const child = spawn(python, [script, "--serve", rowsFile, String(n), String(d), String(threshold)], { env, stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<(line: string | undefined) => void> = [];
  lines.on("line", (line) => waiting.shift()?.(line));
  let exited = false;
  child.on("exit", () => {
    exited = true;
    for (const w of waiting.splice(0)) w(undefined);
  });
  child.stdin!.on("error", () => {}); // a child that died: its exit fails the run
  return {
    run(threads) {
      return new Promise((resolve, reject) => {
        const failed = () => reject(new Error("the scikit-learn anchor exited (is python3-sklearn installed?)"));
        if (exited) return failed();
        waiting.push((line) => (line ? resolve(JSON.parse(line)) : failed()));
        child.stdin!.write(`${JSON.stringify({ threads })}\n`);
      });
    },
    close() {
      child.stdin!.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The cold case on real embeddings against scikit-learn on the same rows, at 1 and 2 threads:
 * ours and the anchor alternate run by run (a pause before each, so neither runs while the
 * other's threads wind down), medians and the ratio ours / scikit-learn.
 */
async function coldFile(file: string): Promise<void> {
  const dump = JSON.parse(readFileSync(file, "utf8")) as { dimension: number; embeddings: Record<string, number[]> };
  const all = Object.values(dump.embeddings);
  const d = dump.dimension;
  const runs = quick ? 7 : 11;
  for (const n of quick ? [2000] : [500, 1000, 2000]) {
    if (n > all.length) continue;
    const vectors = new Float32Array(n * d);
    for (const [i, row] of all.slice(0, n).entries()) vectors.set(row, i * d);
    normalizeRows(vectors, n, d);
    const cut = strongCut(opts);
    const anchor = startAnchor(vectors, n, d, cut);
    try {
      for (const threads of [1, 2]) {
        const ours = () => (threads === 1 ? Promise.resolve(clusterVectors(vectors, n, d, opts)) : clusterVectorsParallel(vectors, n, d, opts, { threads }));
        for (let w = 0; w < 5; w++) await ours(); // warm-up: JIT tiers (one call left the first size's runs slow), WASM compile, workers
        const mine: number[] = [];
        const theirs: number[] = [];
        let blas: unknown;
        for (let r = 0; r < runs; r++) {
          await pause(200);
          const start = performance.now();
          await ours();
          mine.push(performance.now() - start);
          if (!anchor) continue;
          await pause(200);
          const a = await anchor.run(threads);
          theirs.push(a.ms);
          blas = a.blas;
        }
        const m = summary(mine, runs);
        const fields: Record<string, unknown> = { case: "cold-file", n, d, threads, ...m, cut, edges: edgesAbove(vectors, n, d, opts.floor).a.length };
        if (anchor) {
          const t = summary(theirs, runs);
          Object.assign(fields, { sklearn_median_ms: t.median_ms, sklearn_min_ms: t.min_ms, ratio: round(m.median_ms / t.median_ms), blas });
        } else fields.sklearn = "unavailable: no /usr/bin/python3";
        print(fields);
      }
    } finally {
      anchor?.close();
    }
  }
}

function coldMlMatrix(): void {
  const n = 2000;
  const d = 1280;
  const { vectors } = clusteredVectors({ n, d, seed: n + d });
  const rows = Array.from({ length: n }, (_, r) => Array.from(vectors.subarray(r * d, r * d + d)));
  const r = measure(1, () => {
    const x = new Matrix(rows);
    const sims = x.mmul(x.transpose());
    const out = new EdgeBuffer();
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (sims.get(i, j) >= opts.floor) out.push(i, j, sims.get(i, j));
    return clusterEdges(n, out.finish(), opts);
  });
  print({ case: "cold-ml-matrix", n, d, ...r });
}

function graph(): void {
  for (const n of quick ? [2000, 50000] : [2000, 20000, 50000]) {
    const edges = clusteredEdges({ n, floor: opts.floor, seed: n });
    const r = measure(15, () => clusterEdges(n, edges, opts));
    print({ case: "graph", n, d: 1280, ...r, edges: edges.a.length, clusters: clusterEdges(n, edges, opts).length });
  }
}

async function append(): Promise<void> {
  const result = await benchAppend({ n: 2000, appends: 20, model });
  print({
    case: "append",
    n: 2000,
    d: model.dimension,
    median_ms: Math.round(result.appendMs.median * 100) / 100,
    p95_ms: Math.round(result.appendMs.p95 * 100) / 100,
    runs: result.appends,
    graph_edges: result.graphEdges,
  });
  print({ case: "store-read", n: 2000, d: model.dimension, median_ms: Math.round(result.readMs.median * 100) / 100, runs: 5 });
}

/** Dot products of all pairs a < b of n rows, each way we measured. */
async function kernels(): Promise<void> {
  const n = 1000;
  const d = 1280;
  const { vectors: v } = clusteredVectors({ n, d, seed: 5 });
  const report = (name: string, runs: number, f: () => unknown) => {
    const r = measure(runs, f);
    print({ case: `kernel-${name}`, n, d, ...r, gflops_median: gflops(n, d, r.median_ms), gflops_best: gflops(n, d, r.min_ms) });
  };
  let sink = 0;
  report("js-naive", 3, () => {
    for (let i = 0; i < n; i++)
      for (let j = i + 1; j < n; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += v[i * d + k] * v[j * d + k];
        sink += s;
      }
  });
  report("js-unroll4", 3, () => {
    for (let i = 0; i < n; i++)
      for (let j = i + 1; j < n; j++) {
        let s0 = 0,
          s1 = 0,
          s2 = 0,
          s3 = 0;
        const a = i * d,
          b = j * d;
        for (let k = 0; k < d; k += 4) {
          s0 += v[a + k] * v[b + k];
          s1 += v[a + k + 1] * v[b + k + 1];
          s2 += v[a + k + 2] * v[b + k + 2];
          s3 += v[a + k + 3] * v[b + k + 3];
        }
        sink += s0 + s1 + s2 + s3;
      }
  });
  report("js-fround4 (dotF32)", 3, () => {
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) sink += dotF32(v, i * d, v, j * d, d);
  });
  report("wasm-simd-f32 (edgesAbove)", 9, () => edgesAbove(v, n, d, opts.floor, { kernel: "f32" }));
  report("wasm-simd-i16-prefix-screen (edgesAbove)", 9, () => edgesAbove(v, n, d, opts.floor));
  const p = await measureAsync(9, () => edgesAboveParallel(v, n, d, opts.floor, { threads: 2 }));
  print({
    case: "kernel-wasm-simd-i16-prefix-screen-2threads (edgesAboveParallel)",
    n,
    d,
    ...p,
    gflops_median: gflops(n, d, p.median_ms),
    gflops_best: gflops(n, d, p.min_ms),
  });
  const rows = Array.from({ length: n }, (_, r) => Array.from(v.subarray(r * d, r * d + d)));
  report("ml-matrix (mmul, full n×n)", 1, () => {
    const x = new Matrix(rows);
    return x.mmul(x.transpose());
  });
  if (sink === 42) print({ sink });
}

if (args.has("--edge")) {
  // What a phone photo costs at the edge, also written to .bench/edge.jsonl for `pnpm cost`; nothing else.
  const lines = await benchEdge(print, quick);
  mkdirSync(join(import.meta.dirname, "../.bench"), { recursive: true });
  writeFileSync(join(import.meta.dirname, "../.bench/edge.jsonl"), lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
  process.exit(0);
}
if (args.has("--serve")) {
  // Serving at 2,000, 10,000 and 50,000 photos of 2048 dimensions; nothing else (see bench-serve.ts).
  await benchServe(print, quick ? [2000, 10_000] : [2000, 10_000, 50_000, 100_000, ...(args.has("--large") ? [200_000] : [])]);
  process.exit(0);
}
if (args.has("--exact")) {
  // A clusters request below the graph's floor, and the limits the dev and prod API functions get; nothing else.
  const stages = ["dev", "prod"].map((stage) => ({ stage, ...stageSettings(stage).api }));
  await benchExact(print, stages, quick);
  process.exit(0);
}
if (embeddingsFile) {
  // The cold path on real embeddings against scikit-learn; nothing else.
  await coldFile(embeddingsFile);
  process.exit(0);
}
if (args.has("--kernels")) await kernels();
await cold();
graph();
await append();
print(await benchApi(2000, quick ? 11 : 21));
print(await benchBackfill(quick ? 500 : 2000, quick ? 3 : 5));
// Last: its 17 s of float64 arrays leave a heap whose collection slowed the cases after it.
if (!quick) coldMlMatrix();
