/** Paging of GET /users/{userId}/clusters: every cluster once, in order, and no page too big for Lambda. */
import { readFile } from "node:fs/promises";
import { handle, type LambdaEvent } from "hono/aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiApp } from "./app.ts";
import { clustersView, type ClusterBody, type ClustersResponse } from "./clusters-view.ts";
import type { PhotoFacts } from "@photo-clusters/core";
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
        expect(c.best).toEqual(last.best);
        last.images.push(...c.images);
        last.duplicates.push(...c.duplicates);
      } else {
        expect(c.imagesOffset ?? 0).toBe(0);
        clusters.push({ ...c, images: [...c.images], duplicates: [...c.duplicates], imagesOffset: undefined });
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

describe("the review of each cluster", () => {
  // Three clusters of 40, 12 and 3 photos; cliques interleaves their rows, and from row 27 on every
  // row is the largest cluster's.
  const sizes = [40, 12, 3];
  const id = (i: number) => `p${String(i).padStart(3, "0")}`;
  const hash = (i: number) => ((BigInt(i + 1) * 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn).toString(16).padStart(16, "0");
  function factsOf(i: number): PhotoFacts | null {
    if (i === 29) return null; // stored before facts existed
    return {
      // Later rows were taken earlier: capture order is not id order. Photo 31 has no capture time.
      takenAt: i === 31 ? null : new Date(Date.UTC(2024, 4, 6, 12, 0, 0) - i * 1500).toISOString().replace(".000Z", "+00:00"),
      width: 4032,
      height: 3024,
      bytes: 2_000_000 + i,
      format: "heic",
      jpegQuality: null,
      noise: 0.002,
      // Photos 30 and 40 are byte-identical copies; 35 is 33 with one bit of its hash flipped.
      sha256: (i === 40 ? 30 : i).toString(16).padStart(64, "0"),
      phash: i === 35 ? (BigInt(`0x${hash(33)}`) ^ 1n).toString(16).padStart(16, "0") : hash(i),
      // Photo 44 is the only one in focus: the others have under 70% of its sharpness.
      sharpness: i === 44 ? 0.6 : 0.3 + (i % 7) * 0.01,
      exposure: { mean: 0.5, shadows: 0, highlights: 0 },
      rgb: [0.4, 0.5, 0.6],
      chroma: 0.2,
    };
  }
  const view = cliques("alice", sizes, id, factsOf);
  const whole = clustersView(view, { ...params, limit: 1000 }, testModel);

  it("suggests the sharpest full-size photo, lists the same pictures, and orders images by capture time", () => {
    const [big] = whole.clusters;
    expect(big.size).toBe(40);
    expect(big.best).toEqual({ imageId: "p044", reasons: ["most_pixels", "sharpest", "least_clipped", "least_noisy"] });
    // In capture order: 40 was taken before 30, 35 before 33. Nothing else is the same picture.
    expect(big.duplicates).toEqual([
      ["p040", "p030"],
      ["p035", "p033"],
    ]);
    const times = big.images.map((img) => img.takenAt);
    const known = times.filter((t) => t !== null) as string[];
    expect(known).toEqual([...known].sort((x, y) => Date.parse(x) - Date.parse(y)));
    expect(big.takenFrom).toBe(known[0]);
    expect(big.takenTo).toBe(known.at(-1));
    // Photos without a capture time come last, by id; the one stored without facts says so.
    expect(big.images.slice(known.length).map((img) => img.imageId)).toEqual(["p029", "p031"]);
    expect(big.images.find((img) => img.imageId === "p029")).toMatchObject({ takenAt: null, width: null, sharpness: null, exposure: null });
  });

  it("keeps best, duplicates and the order whole across pages, every page within its bytes", () => {
    const { pages, clusters } = walk((cursor) => clustersView(view, { ...params, limit: 1000, cursor, maxBytes: 3000 }, testModel));

    expect(pages.length).toBeGreaterThan(5);
    for (const p of pages) expect(Buffer.byteLength(JSON.stringify(p))).toBeLessThanOrEqual(3000);
    expect(clusters).toEqual(whole.clusters.map((c) => ({ ...c, imagesOffset: undefined })));
  });
});
