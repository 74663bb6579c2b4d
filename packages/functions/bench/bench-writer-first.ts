/**
 * Child process of bench-serve.ts: a writer's first append in a new container, alone in its
 * process, so its peak resident memory (VmHWM, Linux) is the writer's. Usage:
 * node --import tsx bench-writer-first.ts <root> <userId> <seed> [memory budget bytes]; prints
 * {"ms","peak_rss_mb","rss_before_mb","streamed"}. The budget defaults to the prod writer's (1024 MB).
 */
import { readFileSync } from "node:fs";
import { noMetrics, openStore, prng, resnet50V1 } from "@photo-clusters/core";
import { writerMemoryBudget } from "../src/config.ts";

const [root, userId, seed, budget] = process.argv.slice(2);
const status = (field: string) => Number(new RegExp(`${field}:\\s*(\\d+) kB`).exec(readFileSync("/proc/self/status", "utf8"))![1]) / 1024;
const rand = prng(Number(seed));
const vector = Float32Array.from({ length: resnet50V1.dimension }, () => rand() - 0.5);
const id = `NEW_${seed}`;
let streamed = false;
const store = openStore({
  root,
  model: resnet50V1,
  memoryBudgetBytes: Number(budget) || writerMemoryBudget({ memoryMb: 1024 }),
  metrics: {
    ...noMetrics,
    count(name: string) {
      if (name === "StreamedWrites") streamed = true;
    },
  },
  logger: { warn() {}, error: console.error, debug() {} },
});
const before = status("VmRSS");
const started = performance.now();
await store.write(userId, [
  { kind: "put", key: `users/${userId}/${id}.jpg`, imageId: id, etag: `e${seed}`, sequencer: `F${String(seed).padStart(19, "0")}`, vector },
]);
const ms = performance.now() - started;
process.stdout.write(`${JSON.stringify({ ms, peak_rss_mb: Math.round(status("VmHWM")), rss_before_mb: Math.round(before), streamed })}\n`);
