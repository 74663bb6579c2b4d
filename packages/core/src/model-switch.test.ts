import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mobilenetV2Int8, type ModelDescriptor } from "./models.ts";
import { servingView } from "./model-switch.ts";
import { openStore, type EmbeddingStore, type UserView } from "./store/index.ts";

const upgraded: ModelDescriptor = { ...mobilenetV2Int8, id: "upgraded-8", dimension: 8 };
const oldModel: ModelDescriptor = { ...mobilenetV2Int8, id: "original-4", dimension: 4 };

describe("switching the configured model", () => {
  let root: string;
  let before: EmbeddingStore;
  let after: EmbeddingStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "model-switch-"));
    before = openStore({ root, model: oldModel });
    after = openStore({ root, model: upgraded });
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  const view = (store: EmbeddingStore) => (userId: string) => store.readView(userId);
  const ids = (v: UserView) =>
    Array.from({ length: v.rows }, (_, r) => r)
      .filter((r) => v.live(r))
      .map((r) => v.imageId(r));
  const put = (store: EmbeddingStore, id: string, seed: number) =>
    store.write("u", [
      {
        kind: "put",
        key: `users/u/${id}.jpg`,
        imageId: id,
        etag: id,
        sequencer: "01",
        vector: Float32Array.from({ length: store.model.dimension }, (_, k) => Math.sin(seed + k) + 1.5),
      },
    ]);

  it("keeps answering from the previous model until the new one holds every photo, then switches, never mixing", async () => {
    // Prepare
    for (const [i, id] of ["a", "b", "c"].entries()) await put(before, id, i);
    // Act / Assess: while re-embedding, each answer is all old-model
    for (const [i, id] of ["a", "b"].entries()) {
      await put(after, id, i);
      const snapshot = await servingView("u", view(after), view(before));
      expect(snapshot.model).toBe(oldModel.id);
      expect(ids(snapshot)).toEqual(["a", "b", "c"]);
      expect(snapshot.dimension).toBe(oldModel.dimension);
    }
    await put(after, "c", 2);
    const switched = await servingView("u", view(after), view(before));
    expect(switched.model).toBe(upgraded.id);
    expect(ids(switched)).toEqual(["a", "b", "c"]);
    expect(switched.dimension).toBe(upgraded.dimension);
  });

  it("serves the new model at once for a user the previous model never saw", async () => {
    await put(after, "z", 1);
    expect((await servingView("u", view(after), view(before))).model).toBe(upgraded.id);
  });
});
