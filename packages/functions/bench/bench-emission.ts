/**
 * What the EMF metrics add to the writer's and the API's paths (scripts/observability-cost.ts
 * --emission): the same work with metrics written to `write` and with none, interleaved.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  clusteredVectors,
  emfMetrics,
  encodeVector,
  type Metrics,
  mobilenetV2Int8,
  noMetrics,
  openStore,
  silentLogger,
  writeEvents,
  type WriteEventWire,
} from "@photo-clusters/core";
import { createApiApp } from "../src/api/app.ts";
import { testAuth } from "../test/api-factories.ts";
import { cachedReader } from "../src/api/view-cache.ts";

export interface EmissionCase {
  case: string;
  without_ms: number;
  with_ms: number;
  ratio: number;
  lines: number;
  unit: string;
}

export async function benchEmission(options: {
  runs: number;
  write: (line: string) => void;
  n?: number;
}): Promise<{ runs: number; ownMsPerBatch: number; ownMsPerRequest: number; cases: EmissionCase[] }> {
  const { runs, n = 2000 } = options;
  const model = mobilenetV2Int8;
  const d = model.dimension;
  const { vectors } = clusteredVectors({ n: n + 10 * (runs + 1), d, seed: 11 });
  let lines = 0;
  const metrics = (service: "writer" | "api") =>
    emfMetrics({
      namespace: "photo-clusters/bench",
      service,
      write: (line) => {
        lines++;
        options.write(line);
      },
    });
  const root = await mkdtemp(join(tmpdir(), "bench-emission-"));
  try {
    const writer = { with: metrics("writer"), without: noMetrics };
    const stores = { with: openStore({ root, model, metrics: writer.with, logger: silentLogger }), without: openStore({ root, model, logger: silentLogger }) };
    // Both users get the same photos in the same order, so the two sides do the same work.
    const next = { with: 0, without: 0 };
    const batch = (side: "with" | "without", size: number): WriteEventWire[] =>
      Array.from({ length: size }, () => {
        const i = next[side]++;
        return {
          id: `${i}`,
          userId: side,
          kind: "put",
          key: `users/${side}/img${i}.jpg`,
          imageId: `img${i}`,
          etag: `e${i}`,
          sequencer: (i + 1).toString(16).padStart(16, "0"),
          model: model.id,
          vector: encodeVector(vectors.subarray(i * d, i * d + d)),
        };
      });
    for (const side of ["with", "without"] as const) for (let i = 0; i < n; i += 200) await writeEvents(stores[side], batch(side, 200), silentLogger);
    const write = async (side: "with" | "without") => writeEvents(stores[side], batch(side, 10), silentLogger, undefined, writer[side] as Metrics);
    const writerCase = await interleave(runs, write, () => lines);

    const auth = await testAuth();
    const apiMetrics = metrics("api");
    const apps = {
      with: createApiApp({
        readUser: cachedReader(stores.with, {}, apiMetrics),
        verifyToken: auth.verifyToken,
        model,
        logger: silentLogger,
        metrics: apiMetrics,
      }),
      without: createApiApp({ readUser: cachedReader(stores.without), verifyToken: auth.verifyToken, model, logger: silentLogger }),
    };
    const tokens = { with: await auth.issueDevToken("with"), without: await auth.issueDevToken("without") };
    const request = async (side: "with" | "without") => {
      const response = await apps[side].request(`/users/${side}/clusters?threshold=0.85`, { headers: { Authorization: `Bearer ${tokens[side]}` } });
      if (response.status !== 200) throw new Error(`status ${response.status}`);
      await response.arrayBuffer();
    };
    // Requests are short: more of them, for a median as steady as the writer's.
    const apiCase = await interleave(runs * 4, request, () => lines);

    // The metrics' own work, alone: what a writer batch of 10 records and flushes, and what a request does.
    const own = { writer: metrics("writer"), api: metrics("api") };
    const ownBatch = ownMs(() => {
      for (let i = 0; i < 10; i++) own.writer.count("PhotosStored");
      own.writer.time("LockWait", 0.1);
      own.writer.time("StoreWriteLatency", 9.5);
      own.writer.flush();
    });
    const ownRequest = ownMs(() => {
      own.api.count("ViewCacheHits");
      own.api.time("ApiLatency", 3.5, { route: "clusters" });
      own.api.flush();
    });
    return {
      runs,
      ownMsPerBatch: ownBatch,
      ownMsPerRequest: ownRequest,
      cases: [
        { case: `writer: writeEvents, 10 photos into a user of ${n} (d=${d}, fdatasync)`, ...writerCase, unit: "batch of 10" },
        { case: `api: warm GET clusters, user of ${n} (${runs * 4} runs each)`, ...apiCase, unit: "request" },
      ],
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** Milliseconds one call of `work` takes: the median of 21 rounds of 1000. */
function ownMs(work: () => void): number {
  const times: number[] = [];
  for (let r = 0; r < 21; r++) {
    const started = performance.now();
    for (let i = 0; i < 1000; i++) work();
    times.push((performance.now() - started) / 1000);
  }
  return Math.round(times.sort((a, b) => a - b)[10] * 1e4) / 1e4;
}

async function interleave(runs: number, task: (side: "with" | "without") => Promise<unknown>, lines: () => number) {
  const times = { with: [] as number[], without: [] as number[] };
  await task("with");
  await task("without");
  let written = 0;
  for (let r = 0; r < runs; r++) {
    for (const side of r % 2 ? (["with", "without"] as const) : (["without", "with"] as const)) {
      const before = lines();
      const started = performance.now();
      await task(side);
      times[side].push(performance.now() - started);
      if (side === "with") written += lines() - before;
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    without_ms: round(median(times.without)),
    with_ms: round(median(times.with)),
    ratio: round(median(times.with) / median(times.without)),
    lines: round(written / runs),
  };
}
