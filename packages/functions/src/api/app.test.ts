import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "@photo-clusters/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiApp, type ApiDeps } from "./app.ts";
import { exactLimits, type ClustersResponse, type SimilarResponse, type UserView } from "./clusters-view.ts";
import { cachedReader } from "./view-cache.ts";
import { emptyView, PHOTOS, viewOf, TEST_AUDIENCE, TEST_ISSUER, testAuth, testModel, type TestAuth } from "../../test/api-factories.ts";

const silent = { info() {}, error() {} };
let auth: TestAuth;
let alice: string;

beforeAll(async () => {
  auth = await testAuth();
  alice = await auth.issueDevToken("alice");
});
afterAll(() => auth.cleanup());

function appWith(views: Record<string, UserView> = { alice: viewOf("alice") }, overrides: Partial<ApiDeps> = {}) {
  return createApiApp({
    readUser: async (userId) => views[userId] ?? emptyView(userId),
    verifyToken: auth.verifyToken,
    model: testModel,
    logger: silent,
    ...overrides,
  });
}

const bearer = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });

describe("GET /users/:userId/clusters", () => {
  it("groups a user's photos, largest cluster first, with band and similarities", async () => {
    // Act
    const res = await appWith().request("/users/alice/clusters", bearer(alice));
    // Assess
    expect(res.status).toBe(200);
    const body = (await res.json()) as ClustersResponse;
    expect(body).toMatchObject({ userId: "alice", model: testModel.id, threshold: 0.85, imageCount: 7, singletonCount: 2 });
    expect(body.clusters.map((c) => c.images.map((i) => i.imageId))).toEqual([
      ["beach-1", "beach-2", "beach-3"],
      ["dog-1", "dog-2"],
    ]);
    const [beach, dogs] = body.clusters;
    // Cosines 0.9806, 0.9578 and 0.9392 (dogs 0.8944) on the model's calibrated scale.
    expect(beach).toMatchObject({ size: 3, band: "high", minSimilarity: 0.9566, meanSimilarity: 0.9709 });
    expect(dogs).toMatchObject({ size: 2, band: "high", minSimilarity: 0.9246, meanSimilarity: 0.9246 });
    // Photos stored without facts (as every photo before facts existed) say so, field by field.
    const noFacts = { takenAt: null, width: null, height: null, bytes: null, format: null, jpegQuality: null, sharpness: null, noise: null, exposure: null };
    expect(beach.images[0]).toEqual({ imageId: "beach-1", key: "users/alice/beach-1.jpg", ...noFacts });
    expect(beach).toMatchObject({ best: null, duplicates: [], takenFrom: null, takenTo: null });
    expect(beach.id).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });

  it("keeps a cluster's id when the threshold changes but its smallest image stays", async () => {
    const app = appWith();
    const loose = (await (await app.request("/users/alice/clusters?threshold=0.85", bearer(alice))).json()) as ClustersResponse;
    const strict = (await (await app.request("/users/alice/clusters?threshold=0.97", bearer(alice))).json()) as ClustersResponse;
    expect(strict.clusters).toHaveLength(1);
    expect(strict.clusters[0].images.map((i) => i.imageId)).toEqual(["beach-1", "beach-2"]);
    expect(strict.clusters[0].id).toBe(loose.clusters[0].id);
    expect(strict.singletonCount).toBe(5);
  });

  it("applies threshold and minSize from the query", async () => {
    const res = await appWith().request("/users/alice/clusters?threshold=0.9&minSize=3", bearer(alice));
    const body = (await res.json()) as ClustersResponse;
    expect(body.threshold).toBe(0.9);
    expect(body.clusters.map((c) => c.size)).toEqual([3]);
    // The two dogs still pair up (0.9246 ≥ 0.9): hidden by minSize, but not alone.
    expect(body.singletonCount).toBe(2);
  });

  it("splits a group whose similarity is below the threshold", async () => {
    const body = (await (await appWith().request("/users/alice/clusters?threshold=0.93", bearer(alice))).json()) as ClustersResponse;
    expect(body.clusters.map((c) => c.size)).toEqual([3]);
    expect(body.singletonCount).toBe(4);
  });

  it("computes exactly below the stored graph's floor", async () => {
    // Prepare: a graph that only kept pairs ≥ 0.95, so it lacks the dogs' 0.894 edge
    const app = appWith({ alice: viewOf("alice", undefined, { graphFloor: 0.95 }) });
    // Act
    const body = (await (await app.request("/users/alice/clusters?threshold=0.85", bearer(alice))).json()) as ClustersResponse;
    // Assess
    expect(body.clusters.map((c) => c.size)).toEqual([3, 2]);
  });

  it.each(["0", "0.5", "0.85", "0.9", "0.97", "1"])("answers the same with the graph and without it at threshold %s", async (t) => {
    const withGraph = await (await appWith().request(`/users/alice/clusters?threshold=${t}`, bearer(alice))).json();
    const exact = await (
      await appWith({ alice: viewOf("alice", undefined, { graphFloor: null }) }).request(`/users/alice/clusters?threshold=${t}`, bearer(alice))
    ).json();
    expect(withGraph).toEqual(exact);
  });

  it("puts every photo in one group at threshold 0", async () => {
    const body = (await (await appWith().request("/users/alice/clusters?threshold=0", bearer(alice))).json()) as ClustersResponse;
    expect(body.clusters.map((c) => c.size)).toEqual([7]);
    expect(body.clusters[0].band).toBe("low");
  });

  it("refuses a threshold below the graph's floor for more photos than the exact path's budget holds", async () => {
    // Prepare: a budget of memory for 20 photos of this dimension (time is not the limit here), and 21 photos
    const budget = { memoryBytes: 2 * 14 * testModel.dimension * 20, seconds: 60 };
    expect(exactLimits(testModel.dimension, budget).maxImages).toBe(20);
    const many = Array.from({ length: 21 }, (_, i) => ({ imageId: `p${i}`, vector: PHOTOS[i % PHOTOS.length].vector }));
    const app = appWith({ alice: viewOf("alice", many) }, { exactBudget: budget });
    // Act
    const low = await app.request("/users/alice/clusters?threshold=0.5", bearer(alice));
    const usual = await app.request("/users/alice/clusters?threshold=0.85", bearer(alice));
    const zero = await app.request("/users/alice/clusters?threshold=0", bearer(alice));
    // Assess
    expect(low.status).toBe(400);
    expect(await low.json()).toEqual({
      error: { code: "invalid_parameter", message: expect.stringMatching(/^threshold must be at least 0\.\d+ for a user with more than 20 photos$/) },
    });
    expect(usual.status).toBe(200);
    // Threshold 0 needs no pair at all: every photo is in one group, answered from the graph.
    expect(zero.status).toBe(200);
    expect(((await zero.json()) as ClustersResponse).clusters.map((c) => c.size)).toEqual([21]);
  });

  it("refuses a threshold below the graph's floor that lets through more pairs than the budget holds", async () => {
    // Prepare: 21 photos, three copies of each of seven, with 57 pairs at or above 0.5 (and below the
    // floor); one budget holds 57 pairs, the other 56
    const many = Array.from({ length: 21 }, (_, i) => ({ imageId: `p${i}`, vector: PHOTOS[i % PHOTOS.length].vector }));
    const appFor = (pairs: number) => {
      const budget = { memoryBytes: 2 * 350 * pairs, seconds: 60 };
      expect(exactLimits(testModel.dimension, budget)).toEqual({ maxImages: expect.any(Number), maxPairs: pairs });
      expect(exactLimits(testModel.dimension, budget).maxImages).toBeGreaterThanOrEqual(21);
      return appWith({ alice: viewOf("alice", many) }, { exactBudget: budget });
    };
    // Act
    const fits = await appFor(57).request("/users/alice/clusters?threshold=0.5", bearer(alice));
    const over = await appFor(56).request("/users/alice/clusters?threshold=0.5", bearer(alice));
    // Assess
    expect(fits.status).toBe(200);
    expect(((await fits.json()) as ClustersResponse).clusters.map((c) => c.size)).toEqual([9, 6, 3, 3]);
    expect(over.status).toBe(400);
    expect(((await over.json()) as { error: { message: string } }).error.message).toMatch(
      /^threshold 0\.5 is too low for this library: more than 56 pairs of photos are at or above it; raise it \(the graph answers any threshold from 0\.\d+\)$/,
    );
  });

  it("derives the exact path's limits from its budget: more memory and time, more photos and pairs", () => {
    const small = exactLimits(2048, { memoryBytes: 256 * 2 ** 20, seconds: 5 });
    const large = exactLimits(2048, { memoryBytes: 1024 * 2 ** 20, seconds: 20 });
    expect(large.maxImages).toBeGreaterThan(small.maxImages);
    expect(large.maxPairs).toBeGreaterThan(small.maxPairs);
    // Fewer dimensions cost less a pair to screen: more photos within the same budget.
    expect(exactLimits(1280).maxImages).toBeGreaterThan(exactLimits(2048).maxImages);
  });

  it("gives a user with no photos 200 and no clusters", async () => {
    const bob = await auth.issueDevToken("bob");
    const res = await appWith().request("/users/bob/clusters", bearer(bob));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ userId: "bob", model: testModel.id, threshold: 0.85, imageCount: 0, singletonCount: 0, clusters: [] });
  });

  it("marks responses as private and not cacheable", async () => {
    const res = await appWith().request("/users/alice/clusters", bearer(alice));
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(res.headers.get("X-Request-Id")).toBeTruthy();
  });

  it.each(["abc", "-1", "2", "NaN", "", "1.5", "0x1", "1e-1", " 0.5", "Infinity"])("rejects threshold=%j with 400", async (value) => {
    const res = await appWith().request(`/users/alice/clusters?threshold=${encodeURIComponent(value)}`, bearer(alice));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: "invalid_parameter", message: "threshold must be a number between 0 and 1" } });
  });

  it.each(["0", "1", "0.5", ".5", "1.0", "0."])("accepts threshold=%s", async (value) => {
    const res = await appWith().request(`/users/alice/clusters?threshold=${value}`, bearer(alice));
    expect(res.status).toBe(200);
    expect(((await res.json()) as ClustersResponse).threshold).toBe(Number(value));
  });

  it.each(["abc", "1", "0", "-2", "2.5", "NaN", "", "100001", "99999999999"])("rejects minSize=%j with 400", async (value) => {
    const res = await appWith().request(`/users/alice/clusters?minSize=${encodeURIComponent(value)}`, bearer(alice));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: "invalid_parameter", message: "minSize must be an integer between 2 and 100000" } });
  });

  it("rejects a parameter given twice", async () => {
    const res = await appWith().request("/users/alice/clusters?threshold=0.5&threshold=0.9", bearer(alice));
    expect(res.status).toBe(400);
  });

  it.each(["a.b", "x".repeat(129), "a%2Fb", "al%20ice"])("rejects userId %j with 400", async (userId) => {
    const token = await auth.sign({ sub: decodeURIComponent(userId) });
    const res = await appWith().request(`/users/${userId}/clusters`, bearer(token));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_parameter");
  });
});

describe("authentication", () => {
  const expectUnauthorized = async (res: Response) => {
    expect(res.status).toBe(401);
    expect(res.headers.get("WWW-Authenticate")).toMatch(/^Bearer /);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
  };

  it("401s a request without a token", async () => {
    await expectUnauthorized(await appWith().request("/users/alice/clusters"));
  });

  it("401s a non-bearer authorization header", async () => {
    await expectUnauthorized(await appWith().request("/users/alice/clusters", { headers: { Authorization: `Basic ${btoa("alice:pw")}` } }));
  });

  it("401s a token signed by another key", async () => {
    const other = await testAuth();
    try {
      await expectUnauthorized(await appWith().request("/users/alice/clusters", bearer(await other.issueDevToken("alice"))));
    } finally {
      await other.cleanup();
    }
  });

  it("401s a token whose signature was tampered with", async () => {
    const [header, payload, signature] = alice.split(".");
    const forged = [header, payload, signature.slice(0, -4) + (signature.endsWith("AAAA") ? "BBBB" : "AAAA")].join(".");
    await expectUnauthorized(await appWith().request("/users/alice/clusters", bearer(forged)));
  });

  it("401s an unsigned (alg none) token", async () => {
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const none = `${enc({ alg: "none", typ: "JWT" })}.${enc({ sub: "alice", iss: TEST_ISSUER, aud: TEST_AUDIENCE, exp: 9999999999 })}.`;
    await expectUnauthorized(await appWith().request("/users/alice/clusters", bearer(none)));
  });

  it("401s an expired token", async () => {
    const expired = await auth.sign({ sub: "alice", exp: Math.floor(Date.now() / 1000) - 60 });
    const res = await appWith().request("/users/alice/clusters", bearer(expired));
    expect(res.headers.get("WWW-Authenticate")).toContain('error="invalid_token"');
    await expectUnauthorized(res);
  });

  it.each([
    ["issuer", { iss: "someone-else" }],
    ["audience", { aud: "another-api" }],
  ])("401s a token for another %s", async (_what, claims) => {
    await expectUnauthorized(await appWith().request("/users/alice/clusters", bearer(await auth.sign(claims))));
  });

  it("403s a valid token for another user", async () => {
    const res = await appWith().request("/users/bob/clusters", bearer(alice));
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: { code: "forbidden", message: "the token does not grant access to this user" } });
  });

  it("checks the token before it reads the user's photos", async () => {
    let reads = 0;
    const app = appWith(undefined, {
      readUser: async (id) => {
        reads++;
        return emptyView(id);
      },
    });
    await app.request("/users/bob/clusters", bearer(alice));
    await app.request("/users/alice/clusters");
    expect(reads).toBe(0);
  });
});

describe("DELETE /users/:userId/images/:imageId", () => {
  it("deletes the photo's object by its key and answers 202; nothing for another user's, an unknown photo, or without a deleter", async () => {
    const deleted: string[] = [];
    const app = appWith(undefined, { photos: { delete: async (key) => void deleted.push(key) } });
    const ok = await app.request("/users/alice/images/beach-2", { method: "DELETE", ...bearer(alice) });
    expect(ok.status).toBe(202);
    expect(await ok.json()).toEqual({ imageId: "beach-2", key: "users/alice/beach-2.jpg", status: "deleting" });
    expect((await app.request("/users/bob/images/beach-2", { method: "DELETE", ...bearer(alice) })).status).toBe(403);
    expect((await app.request("/users/alice/images/nope", { method: "DELETE", ...bearer(alice) })).status).toBe(404);
    expect((await app.request("/users/alice/images/beach-2", { method: "DELETE" })).status).toBe(401);
    expect((await appWith().request("/users/alice/images/beach-2", { method: "DELETE", ...bearer(alice) })).status).toBe(404);
    expect(deleted).toEqual(["users/alice/beach-2.jpg"]);
  });
});

describe("GET /users/:userId/status", () => {
  it("says how many photos are stored and which failed, for the token's user only", async () => {
    const failed = [
      { key: "users/alice/x.jpg", imageId: "x", code: "too_large", message: "object is 31457280 bytes, over the limit", at: "2026-12-04T10:00:00.000Z" },
    ];
    const app = appWith(undefined, { readFailures: async (userId) => (userId === "alice" ? failed.map((f) => ({ ...f, sequencer: "0A" })) : []) });

    const res = await app.request("/users/alice/status", bearer(alice));

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ userId: "alice", stored: PHOTOS.length, failed });
    expect((await app.request("/users/bob/status", bearer(alice))).status).toBe(403);
    expect((await app.request("/users/alice/status")).status).toBe(401);
  });
});

describe("GET /users/:userId/images/:imageId/similar", () => {
  it("lists the most similar other photos first", async () => {
    const res = await appWith().request("/users/alice/images/beach-1/similar?limit=3", bearer(alice));
    expect(res.status).toBe(200);
    const body = (await res.json()) as SimilarResponse;
    expect(body).toMatchObject({ userId: "alice", imageId: "beach-1", model: testModel.id });
    expect(body.results.map((r) => r.imageId)).toEqual(["beach-2", "beach-3", "dog-2"]);
    expect(body.results[0]).toEqual({ imageId: "beach-2", key: "users/alice/beach-2.jpg", similarity: 0.9861 });
  });

  it("ranks beyond the graph with the store's scan of the log, as the vectors do, without reading them", async () => {
    // Prepare: the seven photos in a real store (the graph keeps few neighbours of each), and every
    // read of the API recorded
    const root = await mkdtemp(join(tmpdir(), "similar-"));
    try {
      const store = openStore({ root, model: testModel, logger: { warn() {}, error() {}, debug() {} } });
      await store.write(
        "alice",
        PHOTOS.map((p, i) => ({
          kind: "put" as const,
          key: `users/alice/${p.imageId}.jpg`,
          imageId: p.imageId,
          etag: `e${i}`,
          sequencer: `0${i + 1}`,
          vector: Float32Array.from(p.vector),
        })),
      );
      const needs: Array<string | undefined> = [];
      const read = cachedReader(store);
      const app = appWith(undefined, {
        readUser: (userId, need) => (needs.push(need), read(userId, need)),
        nearest: (userId, imageId, limit, view) => store.nearest(userId, imageId, limit, view),
      });
      // Act
      const scanned = await app.request("/users/alice/images/car/similar?limit=6", bearer(alice));
      // Assess: the answer of the in-memory vectors, and no read of them
      expect(scanned.status).toBe(200);
      const fromVectors = await appWith().request("/users/alice/images/car/similar?limit=6", bearer(alice));
      expect(await scanned.json()).toEqual(await fromVectors.json());
      expect(needs).toEqual([undefined]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("defaults to 10 results and never lists the photo itself", async () => {
    const body = (await (await appWith().request("/users/alice/images/car/similar", bearer(alice))).json()) as SimilarResponse;
    expect(body.results).toHaveLength(6);
    expect(body.results.map((r) => r.imageId)).not.toContain("car");
  });

  it("404s an unknown image", async () => {
    const res = await appWith().request("/users/alice/images/nope/similar", bearer(alice));
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });

  it.each(["0", "101", "abc", "", "-1", "1.5"])("rejects limit=%j with 400", async (value) => {
    const res = await appWith().request(`/users/alice/images/car/similar?limit=${value}`, bearer(alice));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: "invalid_parameter", message: "limit must be an integer between 1 and 100" } });
  });

  it("rejects an imageId that cannot be one with 400", async () => {
    for (const id of ["a%2F..%2Fb", "a%2F%2Fb", "a%2F.%2Fb"]) {
      const res = await appWith().request(`/users/alice/images/${id}/similar`, bearer(alice));
      expect(res.status, id).toBe(400);
    }
  });

  it("finds a photo whose id holds sub-folders, spaces and Unicode, percent-encoded in the path", async () => {
    const named = PHOTOS.map((p, i) => ({ ...p, imageId: i === 1 ? "2024/05/Plage (1) é" : `2024/05/${p.imageId} copy` }));
    const app = appWith({ alice: viewOf("alice", named) });

    const clusters = (await (await app.request("/users/alice/clusters", bearer(alice))).json()) as ClustersResponse;
    const res = await app.request(`/users/alice/images/${encodeURIComponent("2024/05/Plage (1) é")}/similar?limit=1`, bearer(alice));

    expect(clusters.clusters[0].images[0]).toMatchObject({ imageId: "2024/05/Plage (1) é", key: "users/alice/2024/05/Plage (1) é.jpg" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as SimilarResponse).results[0].imageId).toBe("2024/05/beach-2 copy");
  });

  it("requires the same authorization as clusters", async () => {
    expect((await appWith().request("/users/alice/images/car/similar")).status).toBe(401);
    expect((await appWith().request("/users/bob/images/car/similar", bearer(alice))).status).toBe(403);
  });
});

describe("errors", () => {
  it("answers an unknown route with a JSON 404", async () => {
    const res = await appWith().request("/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "not_found", message: "no such route" } });
  });

  it("500s an unexpected failure without leaking it, and logs it with a request id", async () => {
    // Prepare
    const logged: Array<[string, Record<string, unknown> | undefined]> = [];
    const app = appWith(undefined, {
      readUser: async () => {
        throw new Error("EACCES /mnt/embeddings/alice.emb secret-token-123");
      },
      logger: { info() {}, error: (message, fields) => logged.push([message, fields]) },
    });
    // Act
    const res = await app.request("/users/alice/clusters", bearer(alice));
    // Assess
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: { code: "internal", message: "internal error" } });
    expect(text).not.toMatch(/secret|EACCES|embeddings|stack/);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(logged).toHaveLength(1);
    expect(logged[0][1]).toMatchObject({ requestId: res.headers.get("X-Request-Id"), error: { message: expect.stringContaining("secret-token-123") } });
  });
});
