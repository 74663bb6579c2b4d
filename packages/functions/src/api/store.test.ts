/** The API over the real embedding store: what the writer stored is what the clusters show. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "@photo-clusters/core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createApiApp } from "./app.ts";
import { cachedReader } from "./view-cache.ts";
import type { ClustersResponse } from "./clusters-view.ts";
import { PHOTOS, viewOf, testAuth, testModel, type TestAuth } from "../../test/api-factories.ts";

let root: string;
let auth: TestAuth;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "api-store-"));
  auth = await testAuth();
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await auth.cleanup();
});

it("clusters the photos a store holds, minus the deleted ones", async () => {
  // Prepare
  const store = openStore({ root, model: testModel, logger: { warn() {}, error() {}, debug() {} } });
  const puts = PHOTOS.map((p, i) => ({
    kind: "put" as const,
    key: `users/alice/${p.imageId}.jpg`,
    imageId: p.imageId,
    etag: `"${p.imageId}"`,
    sequencer: (i + 1).toString(16).padStart(16, "0"),
    vector: Float32Array.from(p.vector),
    model: testModel.id,
  }));
  await store.write("alice", puts);
  await store.write("alice", [{ kind: "delete", key: "users/alice/dog-1.jpg", imageId: "dog-1", sequencer: "00000000000000ff" }]);
  const app = createApiApp({ readUser: cachedReader(store), verifyToken: auth.verifyToken, model: testModel, logger: { info() {}, error() {} } });
  const bearer = { headers: { Authorization: `Bearer ${await auth.issueDevToken("alice")}` } };

  // Act
  const body = (await (await app.request("/users/alice/clusters", bearer)).json()) as ClustersResponse;

  // Assess
  expect(body).toMatchObject({ imageCount: 6, singletonCount: 3 });
  expect(body.clusters.map((c) => c.images.map((i) => i.imageId))).toEqual([["beach-1", "beach-2", "beach-3"]]);
  const fromFactory = createApiApp({
    readUser: async () =>
      viewOf(
        "alice",
        PHOTOS.filter((p) => p.imageId !== "dog-1"),
      ),
    verifyToken: auth.verifyToken,
    model: testModel,
    logger: { info() {}, error() {} },
  });
  expect(body).toEqual(await (await fromFactory.request("/users/alice/clusters", bearer)).json());
});
