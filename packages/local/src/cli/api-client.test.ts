import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createApiApp } from "@photo-clusters/functions/api/app";
import { cliques, testAuth, testModel, type TestAuth } from "@photo-clusters/functions/api/test-factories";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clustersUrl, getAllClusters } from "./api-client.ts";

let auth: TestAuth;
let server: ReturnType<typeof serve>;
let apiUrl: string;
beforeAll(async () => {
  auth = await testAuth();
  const view = cliques("alice", Array.from({ length: 50 }, (_, g) => 2 + (g % 4)), (i) => `p${i}`);
  const app = createApiApp({ readUser: async () => view, verifyToken: auth.verifyToken, model: testModel, logger: { info() {}, error() {} } });
  await new Promise<void>((resolve) => { server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve()); });
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await auth.cleanup();
});

describe("the CLI's clusters client", () => {
  it("follows every page over HTTP and gives the same clusters as one page", async () => {
    const token = await auth.issueDevToken("alice");
    const paged = new URL(clustersUrl(apiUrl, "alice", 0.85));
    paged.searchParams.set("limit", "3");
    const pages: number[] = [];

    const all = await getAllClusters(paged.toString(), token, (n) => pages.push(n));
    const single = new URL(paged);
    single.searchParams.set("limit", "1000");
    const one = await getAllClusters(single.toString(), token);

    expect(pages).toHaveLength(17);
    expect(all.clusters).toHaveLength(50);
    expect(all).toEqual(one);
  });
});
