import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeVector, type WriteEventWire } from "./write-payload.ts";
import { jsonLogger } from "../logger.ts";
import { mobilenetV2Int8 } from "../models.ts";
import { openStore } from "../store/index.ts";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeEvents } from "./write-events.ts";

const model = { ...mobilenetV2Int8, id: "wire-test", dimension: 4 };
const previousModel = { ...mobilenetV2Int8, id: "wire-old", dimension: 4 };
const quiet = jsonLogger({}, { write() {} });
let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "write-events-"));
});
afterEach(() => rm(root, { recursive: true, force: true }));

const put = (id: string, userId: string, imageId: string, seq: number, vector = [1, 0, 0, 0]): WriteEventWire => ({
  id,
  kind: "put",
  userId,
  key: `users/${userId}/${imageId}.jpg`,
  imageId,
  etag: `e-${imageId}-${seq}`,
  sequencer: String(seq).padStart(16, "0"),
  model: model.id,
  vector: encodeVector(Float32Array.from(vector)),
});

describe("writeEvents", () => {
  it("writes each user's events under that user, answers every event by its id, and counts what it stored", async () => {
    // Prepare
    const store = openStore({ root, model, logger: quiet });
    const counted: string[] = [];
    const metrics = { count: (name: string) => void counted.push(name), time() {}, flush() {} };

    // Act: two users in one batch, and the same photo twice
    const replies = await writeEvents(store, [put("m1", "ann", "a", 1), put("m2", "bob", "b", 2), put("m3", "ann", "a", 1)], quiet, undefined, metrics);

    // Assess
    expect(replies.map((r) => [r.id, r.ok && r.outcome]).sort()).toEqual([
      ["m1", "stored"],
      ["m2", "stored"],
      ["m3", "duplicate"],
    ]);
    expect((await store.read("ann")).images.map((i) => i.imageId)).toEqual(["a"]);
    expect((await store.read("bob")).images.map((i) => i.imageId)).toEqual(["b"]);
    expect(counted.filter((c) => c === "PhotosStored")).toHaveLength(2);
    expect(counted.filter((c) => c === "PhotosSkipped")).toHaveLength(1);
  });

  it("records a photo that finally failed for the user's status, and a later store of its key settles it", async () => {
    const store = openStore({ root, model, logger: quiet });
    const failure: WriteEventWire = {
      id: "f1",
      kind: "failure",
      userId: "ann",
      key: "users/ann/broken.jpg",
      imageId: "broken",
      sequencer: "0000000000000001",
      code: "not_an_image",
      message: "the file's bytes are not a photo",
      at: "2026-12-07T00:00:00.000Z",
    };

    const recorded = await writeEvents(store, [failure], quiet);
    const before = await store.failures("ann");
    await writeEvents(store, [put("m1", "ann", "broken", 2)], quiet);

    expect(recorded).toEqual([{ id: "f1", ok: true, outcome: "recorded" }]);
    expect(before).toMatchObject([{ key: "users/ann/broken.jpg", code: "not_an_image" }]);
    expect(await store.failures("ann")).toEqual([]);
  });

  it("deletes from the previous model's store too during a model switch, so it never answers with a deleted photo", async () => {
    const store = openStore({ root, model, logger: quiet });
    const previous = openStore({ root, model: previousModel, logger: quiet });
    await previous.write("ann", [
      { kind: "put", key: "users/ann/a.jpg", imageId: "a", etag: "e", sequencer: "0000000000000001", vector: Float32Array.from([1, 0, 0, 0]) },
    ]);

    const replies = await writeEvents(
      store,
      [{ id: "d1", kind: "delete", userId: "ann", key: "users/ann/a.jpg", imageId: "a", sequencer: "0000000000000002", model: model.id }],
      quiet,
      previous,
    );

    expect(replies).toEqual([{ id: "d1", ok: true, outcome: "absent" }]);
    expect((await previous.read("ann")).images).toEqual([]);
  });
});
