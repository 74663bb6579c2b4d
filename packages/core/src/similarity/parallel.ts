/**
 * edgesAbove on several threads: this thread and worker threads that share one WebAssembly memory
 * take the int16 tiles one at a time from a shared counter. Same edges, same values as edgesAbove.
 *
 * The workers run the very scan of screen.ts, shipped as source text, so the
 * code needs no separate worker file and bundles into a Lambda as is. They are started on first
 * use, kept for the next call (a warm Lambda container keeps them) and never hold the process
 * open. Calls are serialised: they share the memory.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { type Cluster, type ClusterOptions, clusterEdges, strongCut } from "./cluster.ts";
import { EdgeBuffer, type Edges, edgesAbove, edgesForCut, sortEdges, withinComponents } from "./edges.ts";
import { createKernel, type Kernel, kernelModule, sharedMemory } from "./kernel.ts";
import { checkMatrix } from "./normalize.ts";
import { PAIR_CAPACITY, prepareScreen, scanTiles, TILE, tileList } from "./screen.ts";

const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const scanTiles = ${scanTiles.toString()};
let kernel = null;
parentPort.on("message", (m) => {
  try {
    if (m.type === "init") {
      const exports = new WebAssembly.Instance(m.module, { env: { memory: m.memory } }).exports;
      kernel = { memory: m.memory, blockI16: exports.blockI16, scanGe: exports.scanGe, dotPairs: exports.dotPairs, dotPairsI16: exports.dotPairsI16 };
      return;
    }
    const r = scanTiles(kernel, m.layout, m.thread, m.tiles, m.floor, m.tileRows, m.pairCap);
    const a = Uint32Array.from(r.a), b = Uint32Array.from(r.b), s = Float32Array.from(r.s);
    parentPort.postMessage({ id: m.id, a, b, s }, [a.buffer, b.buffer, s.buffer]);
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String((e && e.stack) || e) });
  }
});`;

interface Reply {
  id: number;
  a?: Uint32Array;
  b?: Uint32Array;
  s?: Float32Array;
  error?: string;
}

interface Pool {
  kernel: Kernel;
  workers: Worker[];
  pending: Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>;
}

let pool: Pool | undefined;
let nextId = 0;
let queue: Promise<unknown> = Promise.resolve();

function getPool(workers: number): Pool {
  if (pool && pool.workers.length >= workers) return pool;
  pool?.workers.forEach((w) => void w.terminate());
  const memory = sharedMemory();
  const p: Pool = { kernel: createKernel(memory), workers: [], pending: new Map() };
  const fail = (error: Error) => {
    for (const { reject } of p.pending.values()) reject(error);
    p.pending.clear();
    if (pool === p) pool = undefined;
  };
  for (let i = 0; i < workers; i++) {
    // The source is plain JavaScript: no loader hooks (tsx, vitest) needed in the worker.
    const w = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
    w.on("message", (r: Reply) => {
      w.unref(); // idle again: never hold the process open
      const waiter = p.pending.get(r.id);
      p.pending.delete(r.id);
      if (r.error) waiter?.reject(new Error(`similarity worker failed: ${r.error}`));
      else waiter?.resolve(r);
    });
    w.on("error", fail);
    w.on("exit", (code) => fail(new Error(`similarity worker exited with code ${code}`)));
    w.postMessage({ type: "init", module: kernelModule(true), memory });
    w.unref(); // after the listeners, which would ref it again
    p.workers.push(w);
  }
  pool = p;
  return p;
}

/** edgesAbove on `threads` threads (default: every core, at most 2 here). */
export function edgesAboveParallel(vectors: Float32Array, n: number, d: number, floor: number, options: { threads?: number } = {}): Promise<Edges> {
  return edgesForCutParallel(vectors, n, d, floor, floor, options);
}

/** edgesForCut (edges.ts) on `threads` threads: the screen at `strong` runs on all of them. */
async function edgesForCutParallel(vectors: Float32Array, n: number, d: number, floor: number, strong: number, options: { threads?: number }): Promise<Edges> {
  checkMatrix(vectors, n, d);
  const threads = Math.max(1, Math.min(options.threads ?? availableParallelism(), availableParallelism() * 2));
  // Under four row tiles (ten tiles or fewer) the threads' messages cost more than they share:
  // at n = 500 real embeddings, 10 ms on two threads against 8 on one.
  if (threads === 1 || n < 4 * TILE) return edgesForCut(vectors, n, d, floor, strong);
  const run = queue.catch(() => {}).then(() => runParallel(vectors, n, d, floor, strong, threads));
  queue = run;
  return run;
}

async function runParallel(vectors: Float32Array, n: number, d: number, floor: number, strong: number, threads: number): Promise<Edges> {
  // Validation (floor range) and tiny inputs: the one-thread path answers.
  if (!(floor > 0 && floor <= 1)) return edgesAbove(vectors, n, d, floor);
  if (!(strong > floor && strong <= 1)) strong = floor;
  const p = getPool(threads - 1);
  const layout = prepareScreen(vectors, n, d, strong, p.kernel, threads);
  const tiles = tileList(layout.npad);
  const replies = p.workers.slice(0, threads - 1).map(
    (_, k) =>
      new Promise<Reply>((resolve, reject) => {
        const id = nextId++;
        p.pending.set(id, { resolve, reject });
        p.workers[k].ref(); // busy: keep the process alive until it answers
        p.workers[k].postMessage({ type: "job", id, layout, thread: k + 1, tiles, floor: strong, tileRows: TILE, pairCap: PAIR_CAPACITY });
      }),
  );
  let mine: ReturnType<typeof scanTiles> | undefined;
  let failure: unknown;
  try {
    mine = scanTiles(p.kernel, layout, 0, tiles, strong, TILE, PAIR_CAPACITY);
  } catch (error) {
    failure = error;
  }
  // Every thread must be done before this call ends: one still taking tiles from the shared counter
  // would take them from the next call's job. After a failure the pool is not trusted again.
  const settled = await Promise.allSettled(replies);
  failure ??= settled.find((r): r is PromiseRejectedResult => r.status === "rejected")?.reason;
  if (failure !== undefined || !mine) {
    p.workers.forEach((w) => void w.terminate());
    if (pool === p) pool = undefined;
    throw failure;
  }
  const out = new EdgeBuffer(Math.max(1024, n * 4));
  for (let k = 0; k < mine.a.length; k++) out.push(mine.a[k], mine.b[k], mine.s[k]);
  for (const r of settled as PromiseFulfilledResult<Reply>[]) {
    for (let k = 0; k < r.value.a!.length; k++) out.push(r.value.a![k], r.value.b![k], r.value.s![k]);
  }
  const found = sortEdges(out.finish());
  if (strong === floor) return found;
  return withinComponents(p.kernel, layout, found, floor) ?? runParallel(vectors, n, d, floor, floor, threads);
}

/** clusterVectors with the edges computed on several threads: the same clusters. */
export async function clusterVectorsParallel(
  vectors: Float32Array,
  n: number,
  d: number,
  opts: ClusterOptions,
  options: { threads?: number } = {},
): Promise<Cluster[]> {
  return clusterEdges(n, await edgesForCutParallel(vectors, n, d, opts.floor, strongCut(opts), options), opts);
}
