/**
 * `pnpm bench --exact`: what a clusters request below the graph's floor (the exact path) costs, at
 * d = 2048, each request alone in a child process (bench-exact-request.ts) for its peak memory. The
 * costs in clusters-view.ts (exactLimits) are read off these lines:
 * - exact-screen: n photos, no pair at or above the threshold: the O(n²·d) screen and the vectors;
 *   `s_per_pair_dim` is the time over n²/2·d, `bytes_per_photo_dim` the memory over n·d;
 * - exact-pairs: photos whose every pair passes (one component, linkage's worst case):
 *   `us_per_pair` and `bytes_per_pair` after the screen's share;
 * - exact-limits: the limits exactLimits gives the dev and prod API functions, and one request at
 *   each limit (its photos, then its pairs) with the share of the budget it took.
 * Photos are 0.25 + a Gaussian per dimension, L2-normalised: cosine 0.06 ± 0.02 between any two.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { EdgeList, gaussian, normalise, prng, resnet50V1 } from "@photo-clusters/core";
import { seedUser } from "@photo-clusters/core/bench/seed-files";
import { exactLimits } from "../src/api/clusters-view.ts";
import { apiExactBudget } from "../src/config.ts";

const run = promisify(execFile);
const model = resnet50V1;
const d = model.dimension;
const MiB = 2 ** 20;
const round = (x: number, digits = 2) => Number(x.toPrecision(digits + 1));
const median = <T>(xs: T[], key: (x: T) => number) => [...xs].sort((a, b) => key(a) - key(b))[xs.length >> 1];

interface Request {
  n: number;
  ms: number;
  peak_rss_mb: number;
  rss_before_mb: number;
  pairs: number;
}

/** A user of n such photos in a fresh root. No pair reaches the graph's floor, so its graph is empty. */
async function seeded(n: number): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "bench-exact-"));
  const rand = prng(n);
  const puts = Array.from({ length: n }, (_, i) => {
    const id = `IMG_${String(i).padStart(6, "0")}`;
    const vector = normalise(
      Float32Array.from({ length: d }, () => 0.25 + gaussian(rand)),
      id,
    );
    return {
      kind: "put" as const,
      key: `users/bench/${id}.jpg`,
      imageId: id,
      etag: `e${i}`,
      sequencer: (i + 1).toString(16).toUpperCase().padStart(16, "0"),
      vector,
    };
  });
  await seedUser(root, model, "bench", puts, new EdgeList());
  return root;
}

/** The median of `runs` requests, each in a new process. */
async function request(root: string, threshold: number, runs: number): Promise<Request> {
  const child = fileURLToPath(new URL("./bench-exact-request.ts", import.meta.url));
  const samples: Request[] = [];
  for (let r = 0; r < runs; r++) samples.push(JSON.parse((await run(process.execPath, ["--import", "tsx", child, root, "bench", String(threshold)])).stdout));
  return median(samples, (s) => s.ms);
}

/** An API function's settings: its stage, memory and timeout (stacks/stages.ts). */
export interface ApiSettings {
  stage: string;
  memoryMb: number;
  timeoutSeconds: number;
}

export async function benchExact(print: (fields: Record<string, unknown>) => void, stages: ApiSettings[], quick: boolean): Promise<void> {
  const runs = quick ? 1 : 3;
  // Above every pair's cosine (0.06 ± 0.02), below the floor: the screen alone.
  const none = 0.3;
  // Below every pair's cosine: every pair is clustered.
  const all = 0.001;
  const roots = new Map<number, string>();
  const rootOf = async (n: number) => {
    if (!roots.has(n)) roots.set(n, await seeded(n));
    return roots.get(n)!;
  };
  try {
    for (const n of quick ? [2000, 4000] : [2000, 4000, 6000, 8000]) {
      const r = await request(await rootOf(n), none, runs);
      print({
        case: "exact-screen",
        n,
        d,
        median_ms: r.ms,
        peak_rss_mb: r.peak_rss_mb,
        pairs: r.pairs,
        s_per_pair_dim: round(r.ms / 1000 / ((n * n * d) / 2)),
        bytes_per_photo_dim: round(((r.peak_rss_mb - r.rss_before_mb) * MiB) / (n * d)),
        runs,
      });
    }
    for (const n of quick ? [500, 1000] : [500, 1000, 1400]) {
      const root = await rootOf(n);
      const screen = await request(root, none, runs);
      const r = await request(root, all, runs);
      print({
        case: "exact-pairs",
        n,
        d,
        median_ms: r.ms,
        peak_rss_mb: r.peak_rss_mb,
        pairs: r.pairs,
        us_per_pair: round(((r.ms - screen.ms) * 1000) / r.pairs),
        bytes_per_pair: round(((r.peak_rss_mb - screen.peak_rss_mb) * MiB) / r.pairs),
        runs,
      });
    }
    for (const { stage, memoryMb, timeoutSeconds } of stages) {
      const budget = apiExactBudget({ memoryMb, timeoutSeconds });
      const limits = exactLimits(d, budget);
      print({
        case: "exact-limits",
        stage,
        d,
        memory_mb: memoryMb,
        timeout_s: timeoutSeconds,
        ...limits,
        max_images_1280: exactLimits(1280, budget).maxImages,
      });
      if (quick) continue;
      // One request at each limit: its photos with no pair passing, then a library whose every pair passes.
      const atImages = await request(await rootOf(limits.maxImages), none, runs);
      const atPairs = await request(await rootOf(Math.floor(Math.sqrt(2 * limits.maxPairs))), all, runs);
      for (const [name, r] of [
        ["exact-at-max-images", atImages],
        ["exact-at-max-pairs", atPairs],
      ] as const)
        print({
          case: name,
          stage,
          n: r.n,
          d,
          pairs: r.pairs,
          median_ms: r.ms,
          peak_rss_mb: r.peak_rss_mb,
          share_of_time: round(r.ms / 1000 / budget.seconds),
          share_of_memory: round(((r.peak_rss_mb - r.rss_before_mb) * MiB) / budget.memoryBytes),
          runs,
        });
    }
  } finally {
    for (const root of roots.values()) await rm(root, { recursive: true, force: true });
  }
}
