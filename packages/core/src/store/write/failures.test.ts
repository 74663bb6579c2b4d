import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { del, put, quietLogger, sequencer, tempRoot, testModel } from "../fixtures/factories.ts";
import { openStore, type EmbeddingStore } from "../index.ts";

let root: string;
let cleanup: () => Promise<void>;
let store: EmbeddingStore;
beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
  store = openStore({ root, model: testModel(), logger: quietLogger });
});
afterEach(() => cleanup());

const failure = (imageId: string, at: string, code = "invalid_image", seq = 1) => ({
  key: `users/alice/${imageId}.jpg`,
  sequencer: sequencer(seq),
  imageId,
  code,
  message: `${imageId} is not a readable image`,
  at,
});

describe("failure records", () => {
  it("lists a user's failed photos newest first, one per key, the latest reason kept", async () => {
    await store.recordFailures("alice", [failure("a", "2026-12-04T10:00:00.000Z"), failure("b", "2026-12-04T11:00:00.000Z")]);
    await store.recordFailures("alice", [failure("a", "2026-12-04T12:00:00.000Z", "too_large", 2)]);

    expect((await store.failures("alice")).map((f) => [f.imageId, f.code])).toEqual([
      ["a", "too_large"],
      ["b", "invalid_image"],
    ]);
    expect(await store.failures("bob")).toEqual([]);
  });

  it("drops a key's record once a later event stores or deletes the key", async () => {
    await store.recordFailures("alice", [
      failure("a", "2026-12-04T10:00:00.000Z"),
      failure("b", "2026-12-04T11:00:00.000Z"),
      failure("c", "2026-12-04T12:00:00.000Z"),
    ]);

    await store.write("alice", [put("alice", "a", 2)]);
    await store.write("alice", [del("alice", "b", 3)]);

    expect((await store.failures("alice")).map((f) => f.imageId)).toEqual(["c"]);
  });

  it("does not record a failure that arrives after a later event of its key was stored", async () => {
    await store.write("alice", [put("alice", "a", 5)]);

    await store.recordFailures("alice", [failure("a", "2026-12-04T10:00:00.000Z", "endpoint_unavailable", 4)]);
    await store.recordFailures("alice", [failure("a", "2026-12-04T11:00:00.000Z", "too_large", 6)]);

    expect((await store.failures("alice")).map((f) => [f.imageId, f.code])).toEqual([["a", "too_large"]]);
  });

  it("forgets a record when a later event settles the key without a write", async () => {
    await store.recordFailures("alice", [failure("notes", "2026-12-04T10:00:00.000Z", "invalid_key", 1)]);

    await store.forgetFailures("alice", [{ key: "users/alice/notes.jpg", sequencer: sequencer(2) }]);

    expect(await store.failures("alice")).toEqual([]);
  });
});
