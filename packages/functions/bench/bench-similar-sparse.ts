/**
 * Child process of bench-serve.ts: `similar` for a photo the graph holds fewer than `limit`
 * neighbours of, through the API app as the Lambda wires it (a cached view, and the store's
 * `nearest`), alone in its process so its peak resident memory (VmHWM, Linux) is the API's. Usage:
 * node --import tsx bench-similar-sparse.ts <root> <userId> <imageId> <runs>; prints
 * {"first_ms","median_ms","bytes_read","peak_rss_mb","rss_before_mb","results"}: the first request
 * reads the view too; the median and the bytes read are of the `runs` after it.
 */
import { readFileSync } from "node:fs";
import { openStore, resnet50V1 } from "@photo-clusters/core";
import { createApiApp } from "../src/api/app.ts";
import { testAuth } from "../test/api-factories.ts";
import { cachedReader } from "../src/api/view-cache.ts";

const [root, userId, imageId, runs] = process.argv.slice(2);
const status = (field: string) => Number(new RegExp(`${field}:\\s*(\\d+) kB`).exec(readFileSync("/proc/self/status", "utf8"))![1]) / 1024;
const bytesRead = () => Number(/^rchar: (\d+)/m.exec(readFileSync("/proc/self/io", "utf8"))![1]);
const quiet = { warn() {}, error: console.error, debug() {} };
const store = openStore({ root, model: resnet50V1, logger: quiet });
const auth = await testAuth();
const headers = { Authorization: `Bearer ${await auth.issueDevToken(userId, 3600)}` };
const app = createApiApp({
  readUser: cachedReader(store),
  nearest: (u, id, limit, view) => store.nearest(u, id, limit, view),
  verifyToken: auth.verifyToken,
  model: resnet50V1,
  logger: { info() {}, error() {} },
});
const request = async () => {
  const started = performance.now();
  const response = await app.request(`/users/${userId}/images/${imageId}/similar?limit=20`, { headers });
  if (response.status !== 200) throw new Error(`status ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { results: unknown[] };
  return { ms: performance.now() - started, results: body.results.length };
};
const before = status("VmRSS");
const first = await request();
const samples: number[] = [];
const read0 = bytesRead();
for (let r = 0; r < Number(runs); r++) samples.push((await request()).ms);
const bytes = Math.round((bytesRead() - read0) / Number(runs));
samples.sort((a, b) => a - b);
process.stdout.write(
  `${JSON.stringify({ first_ms: first.ms, median_ms: samples[samples.length >> 1], bytes_read: bytes, peak_rss_mb: Math.round(status("VmHWM")), rss_before_mb: Math.round(before), results: first.results })}\n`,
);
