/**
 * A figure for the README and scripts/bench.ts: the cost of appending one image to a user who already
 * has `n` (lock + graph frame + record + fdatasync + graph update against all n vectors), and of a
 * lock-free read. Prints nothing; returns milliseconds.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mobilenetV2Int8, type ModelDescriptor } from "../src/models.ts";
import { openStore } from "../src/store/embedding-store.ts";
import type { PutEvent } from "../src/store/types.ts";

export interface AppendBenchResult {
  n: number;
  dimension: number;
  appends: number;
  appendMs: { median: number; p95: number; mean: number };
  readMs: { median: number };
  graphEdges: number;
}

export async function benchAppend(options: { n?: number; appends?: number; model?: ModelDescriptor; root?: string } = {}): Promise<AppendBenchResult> {
  const model = options.model ?? mobilenetV2Int8;
  const n = options.n ?? 2000;
  const appends = options.appends ?? 50;
  const d = model.dimension;
  const root = options.root ?? (await mkdtemp(join(tmpdir(), "pc-bench-")));
  const store = openStore({ root, model, logger: { warn() {}, error: console.error, debug() {} } });
  let seed = 1;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff - 0.5;
  };
  // Clustered vectors, like photos: 100 centres, each image a noisy copy of one.
  const centres = Array.from({ length: 100 }, () => Float32Array.from({ length: d }, random));
  const event = (i: number): PutEvent => ({
    kind: "put",
    key: `users/bench/img${i}.jpg`,
    imageId: `img${i}`,
    etag: `e${i}`,
    sequencer: (i + 1).toString(16).toUpperCase().padStart(16, "0"),
    vector: Float32Array.from(centres[i % centres.length], (x) => x + random() * 0.5),
  });
  try {
    for (let i = 0; i < n; i += 200) {
      await store.write(
        "bench",
        Array.from({ length: Math.min(200, n - i) }, (_, k) => event(i + k)),
      );
    }
    const times: number[] = [];
    for (let i = 0; i < appends; i++) {
      const e = event(n + i);
      const start = performance.now();
      await store.write("bench", [e]);
      times.push(performance.now() - start);
    }
    const reads: number[] = [];
    let graphEdges = 0;
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      const snapshot = await store.read("bench");
      reads.push(performance.now() - start);
      graphEdges = snapshot.graph?.edges.a.length ?? -1;
    }
    const sorted = [...times].sort((a, b) => a - b);
    return {
      n,
      dimension: d,
      appends,
      appendMs: { median: sorted[sorted.length >> 1], p95: sorted[Math.floor(sorted.length * 0.95)], mean: times.reduce((a, b) => a + b, 0) / times.length },
      readMs: { median: reads.sort((a, b) => a - b)[reads.length >> 1] },
      graphEdges,
    };
  } finally {
    if (!options.root) await rm(root, { recursive: true, force: true });
  }
}
