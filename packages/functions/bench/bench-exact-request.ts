/**
 * Child process of bench-exact.ts: one clusters request below the graph's floor (the exact path),
 * alone in its process, so its peak resident memory (VmHWM, Linux) is that request's. Usage:
 * node --import tsx bench-exact-request.ts <root> <userId> <threshold>; prints {"n","ms","peak_rss_mb","rss_before_mb","pairs","clusters"}.
 */
import { readFileSync } from "node:fs";
import { edgesAbove, openStore, resnet50V1, toCosine } from "@photo-clusters/core";
import { clustersView } from "../src/api/clusters-view.ts";
import { cachedReader } from "../src/api/view-cache.ts";

const [root, userId, threshold] = process.argv.slice(2);
const status = (field: string) => Number(new RegExp(`${field}:\\s*(\\d+) kB`).exec(readFileSync("/proc/self/status", "utf8"))![1]) / 1024;
const read = cachedReader(openStore({ root, model: resnet50V1, logger: { warn() {}, error: console.error, debug() {} } }));
const before = status("VmRSS");
const started = performance.now();
const view = await read(userId, "vectors");
const page = clustersView(
  view,
  { threshold: Number(threshold), minSize: 2, limit: 10, exactBudget: { memoryBytes: Number.POSITIVE_INFINITY, seconds: Number.POSITIVE_INFINITY } },
  resnet50V1,
);
const ms = performance.now() - started;
const peak = Math.round(status("VmHWM"));
// Counted after the measurement: the pairs the request clustered.
const pairs = edgesAbove(view.vectors!, view.rows, view.dimension, toCosine(Number(threshold), resnet50V1.defaults.calibration)).a.length;
process.stdout.write(
  `${JSON.stringify({ n: view.imageCount, ms: Math.round(ms), peak_rss_mb: peak, rss_before_mb: Math.round(before), pairs, clusters: page.clusters.length })}\n`,
);
