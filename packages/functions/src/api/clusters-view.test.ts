/** Paging of GET /users/{userId}/clusters: every cluster once, in order, and no page too big for Lambda. */
import { readFile } from "node:fs/promises";
import { handle, type LambdaEvent } from "hono/aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiApp } from "./app.ts";
import { clustersView, type ClusterBody, type ClustersResponse } from "./clusters-view.ts";
import { cliques, testAuth, testModel, type TestAuth } from "../../test/api-factories.ts";

type EventV2 = Extract<LambdaEvent, { rawPath: string; routeKey: string }>;

let auth: TestAuth;
let event: EventV2;
beforeAll(async () => {
  auth = await testAuth();
  event = JSON.parse(await readFile(new URL("../../test/fixtures/apigw-v2-clusters.json", import.meta.url), "utf8"));
});
afterAll(() => auth.cleanup());

/** Follows nextCursor to the end, joining the pieces of a cluster split between pages. */
function walk(page: (cursor?: string) => ClustersResponse): { pages: ClustersResponse[]; clusters: ClusterBody[] } {
  const pages: ClustersResponse[] = [];
  const clusters: ClusterBody[] = [];
  let cursor: string | undefined;
  do {
    const body = page(cursor);
    pages.push(body);
    for (const c of body.clusters) {
      const last = clusters.at(-1);
      if (last && last.id === c.id) {
        expect(c.imagesOffset).toBe(last.images.length);
        last.images.push(...c.images);
      } else {
        expect(c.imagesOffset ?? 0).toBe(0);
        clusters.push({ ...c, images: [...c.images], imagesOffset: undefined });
      }
    }
    cursor = body.nextCursor;
    expect(pages.length).toBeLessThan(1000);
  } while (cursor);
  return { pages, clusters };
}

const params = { threshold: 0.85, minSize: 2 };

describe("paging clusters", () => {
  const sizes = Array.from({ length: 240 }, (_, g) => 2 + ((g * 7) % 9));
  const view = cliques("alice", sizes, (i) => `img-${String((i * 7919) % 100_000).padStart(5, "0")}`);
  const whole = clustersView(view, { ...params, limit: 1000 }, testModel);

  it("returns every cluster exactly once across pages, largest first, then by smallest image id", () => {
    const { pages, clusters } = walk((cursor) => clustersView(view, { ...params, limit: 7, cursor }, testModel));

    expect(whole.nextCursor).toBeUndefined();
    expect(whole.clusters).toHaveLength(240);
    expect(pages).toHaveLength(Math.ceil(240 / 7));
    expect(clusters.map((c) => c.id)).toEqual(whole.clusters.map((c) => c.id));
    expect(clusters).toEqual(whole.clusters.map((c) => ({ ...c, imagesOffset: undefined })));
    const order = whole.clusters.map((c) => [c.size, c.images[0].imageId] as const);
    expect(order).toEqual([...order].sort((x, y) => y[0] - x[0] || (x[1] < y[1] ? -1 : 1)));
  });

  it("splits a cluster too big for what is left of a page, and continues it on the next", () => {
    const { pages, clusters } = walk((cursor) => clustersView(view, { ...params, limit: 1000, cursor, maxBytes: 4096 }, testModel));

    expect(pages.length).toBeGreaterThan(10);
    expect(pages.some((p) => p.clusters.some((c) => c.imagesOffset !== undefined && c.imagesOffset > 0))).toBe(true);
    for (const p of pages) expect(Buffer.byteLength(JSON.stringify(p))).toBeLessThanOrEqual(4096);
    expect(clusters).toEqual(whole.clusters.map((c) => ({ ...c, imagesOffset: undefined })));
  });

  it("keeps room for the next cluster's cursor, however long its id: every page within its bytes", () => {
    // 100 clusters of short ids, then 5 whose every id is 1,000 control characters (JSON: 6 bytes each).
    // (cliques lists rows round-robin over the groups: groups 100–104 hold the rows i < 315 with i % 105 ≥ 100.)
    const idOf = (i: number) => (i < 315 && i % 105 >= 100 ? `${"\u0001".repeat(1000)}${i}` : `s${String(i).padStart(4, "0")}`);
    const mixed = cliques("alice", [...Array(100).fill(4), ...Array(5).fill(3)], idOf);
    // From a page that holds one long image (12 KB) and a long cursor (8 KB) on.
    for (let maxBytes = 24_000; maxBytes <= 60_000; maxBytes += 1_000) {
      const { pages, clusters } = walk((cursor) => clustersView(mixed, { ...params, limit: 1000, cursor, maxBytes }, testModel));
      for (const p of pages) expect(Buffer.byteLength(JSON.stringify(p)), `maxBytes ${maxBytes}`).toBeLessThanOrEqual(maxBytes);
      expect(clusters).toHaveLength(105);
    }
  });

  it("refuses a cursor from another threshold, or one it never gave", () => {
    const first = clustersView(view, { ...params, limit: 5 }, testModel);

    expect(() => clustersView(view, { ...params, threshold: 0.9, limit: 5, cursor: first.nextCursor }, testModel)).toThrow(/another threshold/);
    expect(() => clustersView(view, { ...params, limit: 5, cursor: "bm9wZQ" }, testModel)).toThrow(/cursor is not one/);
  });

  it("pages through ids whose cursor is longest (1,024 bytes of control characters, 6 bytes each in JSON), through the app", async () => {
    // Each cluster's smallest id goes into the cursor: make them all 1,024 bytes that JSON escapes.
    const idOf = (i: number) => `${String.fromCharCode(1 + i).repeat(1023)}${"abcdef"[i]}`;
    const odd = cliques("alice", [2, 2, 2], idOf);
    const app = createApiApp({ readUser: async () => odd, verifyToken: auth.verifyToken, model: testModel, logger: { info() {}, error() {} } });
    const headers = { Authorization: `Bearer ${await auth.issueDevToken("alice")}` };
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const res = await app.request(`/users/alice/clusters?threshold=0.85&limit=1${cursor ? `&cursor=${cursor}` : ""}`, { headers });
      expect(res.status).toBe(200);
      const body = (await res.json()) as ClustersResponse;
      ids.push(...body.clusters.flatMap((c) => c.images.map((i) => i.imageId)));
      cursor = body.nextCursor;
    } while (cursor);
    expect(ids.sort()).toEqual([0, 1, 2, 3, 4, 5].map(idOf).sort());
  });

  it("keeps every page of 100,000 photos with 128-character ids under Lambda's 6 MB, through the Lambda handler", async () => {
    const big = cliques(
      "alice",
      Array.from({ length: 10_000 }, () => 10),
      (i) => `${String(i).padStart(6, "0")}-${"x".repeat(121)}`,
    );
    const handler = handle(createApiApp({ readUser: async () => big, verifyToken: auth.verifyToken, model: testModel, logger: { info() {}, error() {} } }));
    const seen = new Set<string>();
    let cursor: string | undefined;
    let pages = 0;
    let largest = 0;
    do {
      const query = `threshold=0.8&minSize=2&limit=1000${cursor ? `&cursor=${cursor}` : ""}`;
      const result = await handler({ ...structuredClone(event), rawQueryString: query, queryStringParameters: Object.fromEntries(new URLSearchParams(query)) });
      expect(result.statusCode).toBe(200);
      const payload = Buffer.byteLength(JSON.stringify(result));
      largest = Math.max(largest, payload);
      expect(payload).toBeLessThan(6_000_000);
      const body = JSON.parse(result.body) as ClustersResponse;
      for (const c of body.clusters)
        for (const img of c.images) {
          expect(seen.has(img.imageId)).toBe(false);
          seen.add(img.imageId);
        }
      cursor = body.nextCursor;
      pages++;
    } while (cursor);

    expect(seen.size).toBe(100_000);
    expect(pages).toBeGreaterThan(1);
    expect(largest).toBeGreaterThan(2_000_000); // pages were filled, not cut short by the limit
  }, 120_000);
});
