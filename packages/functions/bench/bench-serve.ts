/**
 * `pnpm bench --serve`: what a clusters request and a writer's append cost at n photos of ResNet-50's
 * 2048 dimensions, through the real store and API app on this machine's disk (page cache warm), with
 * the bytes each read from files (/proc/self/io `rchar`, Linux).
 *
 * - serve-first: a request in a new container (new store instance and cache);
 * - serve-first-full: the same, answered from a full read of the log as the API did before the refs
 *   file (the anchor, in the same run);
 * - serve-after-write: a request after another store instance appended one photo;
 * - serve-warm: a request with nothing new;
 * - serve-writer-after-write: a writer's append after another instance appended one;
 * - serve-similar-sparse: `similar` for a photo the graph holds no neighbour of, answered by the
 *   store's bounded scan of the log, in a child process with its peak resident memory;
 * - serve-writer-first: a writer's first append in a new container (it reads the whole log, in
 *   bounded chunks), in a child process that does only that, with its peak resident memory.
 * The user is seeded with the store's own encoders (seed-files.ts): groups of near-duplicates and
 * singletons, whose graph is exact because vectors of different groups are far below the floor, each
 * photo with facts as the poller stores them (so each request reads the facts file and reviews its
 * clusters: best shot and duplicates).
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { clusteredVectors, dotF32, EdgeList, openStore, type PhotoFacts, prng, type PutEvent, resnet50V1, viewOfSnapshot } from "@photo-clusters/core";
import { seedUser } from "@photo-clusters/core/bench/seed-files";
import { createApiApp } from "../src/api/app.ts";
import { testAuth } from "../test/api-factories.ts";
import { cachedReader } from "../src/api/view-cache.ts";

const run = promisify(execFile);

const model = resnet50V1;
const d = model.dimension;
const quiet = { warn() {}, error: console.error, debug() {} };
const round = (x: number) => Math.round(x * 100) / 100;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Bytes this process has read through read syscalls so far. */
async function bytesRead(): Promise<number> {
  return Number((await readFile("/proc/self/io", "utf8")).match(/^rchar: (\d+)/m)![1]);
}

async function measured(f: () => Promise<unknown>): Promise<{ ms: number; bytes: number }> {
  const before = await bytesRead();
  const start = performance.now();
  await f();
  const ms = performance.now() - start;
  return { ms, bytes: (await bytesRead()) - before };
}

/** A phone photo's facts, as the poller measures them (distinct hashes: no two photos are the same picture). */
function factsOf(i: number): PhotoFacts {
  const h = (x: number) => ((x * 2654435761) >>> 0).toString(16).padStart(8, "0");
  return {
    takenAt: new Date(Date.UTC(2024, 0, 1) + i * 37_000).toISOString().replace("Z", "+00:00"),
    width: 3024,
    height: 4032,
    bytes: 2_000_000 + ((i * 7919) % 1_000_000),
    format: "heic",
    jpegQuality: null,
    sha256: `${h(i)}${h(i + 1)}`.repeat(4),
    phash: `${h(i + 2)}${h(i + 3)}`,
    sharpness: 0.2 + ((i * 13) % 100) / 1000,
    noise: 0.002,
    exposure: { mean: 0.45, shadows: 0.001, highlights: 0.01 },
    rgb: [0.45, 0.44, 0.4],
    chroma: 0.12,
  };
}

function put(i: number, vector: Float32Array): PutEvent {
  return {
    kind: "put",
    key: `users/bench/IMG_${String(i).padStart(6, "0")}.jpg`,
    imageId: `IMG_${String(i).padStart(6, "0")}`,
    etag: `"${((i * 2654435761) >>> 0).toString(16).padStart(32, "0")}"`,
    sequencer: (i + 1).toString(16).toUpperCase().padStart(16, "0"),
    vector,
    facts: factsOf(i),
  };
}

export async function benchServe(print: (fields: Record<string, unknown>) => void, sizes = [2000, 10_000, 50_000]): Promise<void> {
  for (const n of sizes) {
    const root = await mkdtemp(join(tmpdir(), "bench-serve-"));
    try {
      const { vectors, labels } = clusteredVectors({ n, d, seed: n, singletons: 0.4 });
      const floor = model.defaults.graphFloor;
      const members = new Map<number, number[]>();
      labels.forEach((g, i) => {
        if (g >= 0) members.set(g, [...(members.get(g) ?? []), i]);
      });
      const edges = new EdgeList();
      for (const rows of members.values())
        for (let x = 0; x < rows.length; x++)
          for (let y = x + 1; y < rows.length; y++) {
            const s = dotF32(vectors, rows[x] * d, vectors, rows[y] * d, d);
            if (s >= floor) edges.push(rows[x], rows[y], s);
          }
      await seedUser(
        root,
        model,
        "bench",
        Array.from({ length: n }, (_, i) => put(i, vectors.subarray(i * d, (i + 1) * d))),
        edges,
      );
      const auth = await testAuth();
      const headers = { Authorization: `Bearer ${await auth.issueDevToken("bench", 3600)}` };
      const appOf = (readUser: Parameters<typeof createApiApp>[0]["readUser"]) =>
        createApiApp({ readUser, verifyToken: auth.verifyToken, model, logger: { info() {}, error() {} } });
      const request = async (app: ReturnType<typeof appOf>) => {
        const response = await app.request("/users/bench/clusters?threshold=0.85", { headers });
        if (response.status !== 200) throw new Error(`status ${response.status}: ${await response.text()}`);
        return response.json();
      };
      const rand = prng(n + 1);
      let next = n;
      const newPhoto = () =>
        put(
          next++,
          Float32Array.from({ length: d }, () => rand() - 0.5),
        );
      const runs = n >= 50_000 ? 5 : 9;
      const report = (name: string, samples: Array<{ ms: number; bytes: number }>, extra: Record<string, unknown> = {}) =>
        print({
          case: name,
          n,
          d,
          median_ms: round(median(samples.map((s) => s.ms))),
          bytes_read: median(samples.map((s) => s.bytes)),
          runs: samples.length,
          edges: edges.length,
          ...extra,
        });

      // Memory of one cached user, in a process that holds nothing else (bench-memory.ts; median of 3).
      const memory = [];
      for (let r = 0; r < 3; r++) {
        const { stdout } = await run(process.execPath, [
          "--expose-gc",
          "--import",
          "tsx",
          fileURLToPath(new URL("./bench-memory.ts", import.meta.url)),
          root,
          "bench",
        ]);
        memory.push(JSON.parse(stdout) as { bytes: number; edges: number; viewBytes: number });
      }
      const mem = memory.sort((x, y) => x.bytes - y.bytes)[1];
      print({
        case: "api_bytes_per_user",
        n,
        d,
        api_bytes_per_user: mem.bytes,
        edges: mem.edges,
        bytes_per_photo_after_edges: round((mem.bytes - 12 * mem.edges) / n),
        view_bytes: mem.viewBytes,
      });

      // A new container: a new store instance and cache behind the same app.
      let fresh = cachedReader(openStore({ root, model, logger: quiet }));
      const coldApp = appOf((u, need) => fresh(u, need));
      const first = [];
      for (let r = 0; r < runs; r++) {
        fresh = cachedReader(openStore({ root, model, logger: quiet }));
        first.push(await measured(() => request(coldApp)));
      }
      report("serve-first", first);
      const full = [];
      for (let r = 0; r < Math.min(runs, 3); r++) {
        const store = openStore({ root, model, logger: quiet });
        full.push(await measured(() => request(appOf(async (u) => viewOfSnapshot(await store.read(u))))));
      }
      report("serve-first-full", full);

      const api = appOf(cachedReader(openStore({ root, model, logger: quiet })));
      await request(api);
      const warm = [];
      for (let r = 0; r < runs; r++) warm.push(await measured(() => request(api)));
      report("serve-warm", warm);

      // `similar` for a photo with no neighbour in the graph (a singleton): the store's bounded scan of
      // the log, in a child process for the API's peak memory (bench-similar-sparse.ts).
      const lonely = labels.findIndex((g) => g < 0);
      const { stdout: sparseOut } = await run(process.execPath, [
        "--import",
        "tsx",
        fileURLToPath(new URL("./bench-similar-sparse.ts", import.meta.url)),
        root,
        "bench",
        put(lonely, vectors.subarray(0, d)).imageId,
        String(n >= 50_000 ? 3 : 5),
      ]);
      const sparse = JSON.parse(sparseOut) as {
        first_ms: number;
        median_ms: number;
        bytes_read: number;
        peak_rss_mb: number;
        rss_before_mb: number;
        results: number;
      };
      print({
        case: "serve-similar-sparse",
        n,
        d,
        median_ms: round(sparse.median_ms),
        first_ms: round(sparse.first_ms),
        bytes_read: sparse.bytes_read,
        peak_rss_mb: sparse.peak_rss_mb,
        rss_before_mb: sparse.rss_before_mb,
        results: sparse.results,
      });

      const other = openStore({ root, model, logger: quiet });
      // A new container's writer, alone in a child process, for its peak memory (bench-writer-first.ts).
      const writerFirst: Array<{ ms: number; peak_rss_mb: number; rss_before_mb: number; streamed: boolean }> = [];
      for (let r = 0; r < 3; r++) {
        const { stdout } = await run(
          process.execPath,
          ["--import", "tsx", fileURLToPath(new URL("./bench-writer-first.ts", import.meta.url)), root, "bench", String(n + 1000 + r)],
          {
            maxBuffer: 1 << 20,
          },
        );
        writerFirst.push(JSON.parse(stdout));
      }
      print({
        case: "serve-writer-first",
        n,
        d,
        median_ms: round(median(writerFirst.map((w) => w.ms))),
        peak_rss_mb: median(writerFirst.map((w) => w.peak_rss_mb)),
        rss_before_append_mb: median(writerFirst.map((w) => w.rss_before_mb)),
        // Whether the user passed the prod writer's budget, so new photos were scored against the log on disk.
        streamed: writerFirst.some((w) => w.streamed),
        runs: writerFirst.length,
      });
      await other.write("bench", [newPhoto()]);
      const afterWrite = [];
      for (let r = 0; r < runs; r++) {
        await other.write("bench", [newPhoto()]);
        afterWrite.push(await measured(() => request(api)));
      }
      report("serve-after-write", afterWrite);

      const writer = openStore({ root, model, logger: quiet });
      await writer.write("bench", [newPhoto()]);
      const writerAfter = [];
      for (let r = 0; r < runs; r++) {
        await other.write("bench", [newPhoto()]);
        writerAfter.push(await measured(() => writer.write("bench", [newPhoto()])));
      }
      report("serve-writer-after-write", writerAfter);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }
}
