/**
 * `api` bench: a warm API answering GET /users/{id}/clusters for a user with n photos, through the
 * whole app (JWT check, snapshot cache, graph clustering, JSON), as a provisioned Lambda would.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clusteredVectors, mobilenetV2Int8, openStore } from "@photo-clusters/core";
import { createApiApp } from "../src/api/app.ts";
import { testAuth } from "../test/api-factories.ts";
import { cachedReader } from "../src/api/view-cache.ts";

export async function benchApi(n = 2000, runs = 21): Promise<Record<string, unknown>> {
  const model = mobilenetV2Int8;
  const d = model.dimension;
  const root = await mkdtemp(join(tmpdir(), "bench-api-"));
  try {
    const store = openStore({ root, model });
    const { vectors } = clusteredVectors({ n, d, seed: 7 });
    for (let start = 0; start < n; start += 200) {
      const events = [];
      for (let i = start; i < Math.min(n, start + 200); i++) {
        events.push({
          kind: "put" as const,
          key: `users/bench/img${i}.jpg`,
          imageId: `img${i}`,
          etag: `e${i}`,
          sequencer: "01",
          vector: vectors.slice(i * d, i * d + d),
        });
      }
      await store.write("bench", events);
    }
    const auth = await testAuth();
    const app = createApiApp({ readUser: cachedReader(store), verifyToken: auth.verifyToken, model, logger: { info() {}, error() {} } });
    const headers = { Authorization: `Bearer ${await auth.issueDevToken("bench")}` };
    const request = async () => {
      const response = await app.request("/users/bench/clusters?threshold=0.85", { headers });
      if (response.status !== 200) throw new Error(`status ${response.status}`);
      return response.json();
    };
    const coldStarted = performance.now();
    await request();
    const firstMs = performance.now() - coldStarted;
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await request();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const r = (x: number) => Math.round(x * 100) / 100;
    return { case: "api", n, d, median_ms: r(times[runs >> 1]), runs, first_request_ms: r(firstMs) };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
