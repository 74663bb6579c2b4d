import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createApiApp } from "@photo-clusters/functions";
import { cliques, testAuth, testModel, type TestAuth } from "@photo-clusters/functions/test/api-factories";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clustersUrl, getAllClusters, type ClustersBody } from "./api-client.ts";

let auth: TestAuth;
let server: ReturnType<typeof serve>;
let apiUrl: string;
beforeAll(async () => {
  auth = await testAuth();
  const view = cliques(
    "alice",
    Array.from({ length: 50 }, (_, g) => (g % 10 === 0 ? 40 : 2 + (g % 4))),
    (i) => `p${i}`,
  );
  // Pages of 3 KB: clusters of up to 40 photos are split between pages.
  const app = createApiApp({
    readUser: async () => view,
    verifyToken: auth.verifyToken,
    model: testModel,
    logger: { info() {}, error() {} },
    maxPageBytes: 3000,
  });
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve());
  });
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await auth.cleanup();
});

describe("the CLI's clusters client", () => {
  it("follows every page over HTTP, joining clusters split between pages", async () => {
    const token = await auth.issueDevToken("alice");
    const paged = new URL(clustersUrl(apiUrl, "alice", 0.85));
    paged.searchParams.set("limit", "3");
    const pages: number[] = [];

    const all = await getAllClusters(paged.toString(), token, (n) => pages.push(n));
    const raw = (await (await fetch(paged, { headers: { Authorization: `Bearer ${token}` } })).json()) as ClustersBody;

    expect(raw.clusters.at(-1)?.images.length).toBeLessThan(40); // the first page ends inside a big cluster
    expect(pages.length).toBeGreaterThan(17);
    expect(all.clusters).toHaveLength(50);
    expect(new Set(all.clusters.map((c) => c.id)).size).toBe(50);
    for (const c of all.clusters) {
      expect(c.images).toHaveLength(c.size);
      expect(new Set(c.images.map((i) => i.imageId)).size).toBe(c.size);
    }
    expect(all.clusters.map((c) => c.size)).toEqual([...all.clusters.map((c) => c.size)].sort((x, y) => y - x));
  });
});
