import { appendFile, readFile, writeFile } from "node:fs/promises";
import lockfile from "proper-lockfile";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InvalidKeyError, InvalidVectorError, LockTimeoutError, ModelMismatchError } from "../errors.ts";
import { del, put, quietLogger, recordingLogger, tempRoot, testModel, vectorFor } from "./fixtures/factories.ts";
import { expectGraphExact } from "./fixtures/graph-check.ts";
import { openStore, userPaths, type EmbeddingStore } from "./index.ts";
import { parseLog } from "./format/log-file.ts";

let root: string;
let cleanup: () => Promise<void>;
let store: EmbeddingStore;
const model = testModel();

beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
  store = openStore({ root, model, logger: quietLogger });
});
afterEach(() => cleanup());

const ids = (snapshot: { images: { imageId: string }[] }) => snapshot.images.map((i) => i.imageId).sort();

describe("embedding store", () => {
  it("gives a user without photos an empty snapshot", async () => {
    const snapshot = await store.read("nobody");

    expect(snapshot).toMatchObject({ userId: "nobody", model: model.id, dimension: 16, images: [] });
    expect(snapshot.vectors.length).toBe(0);
  });

  it("stores vectors L2-normalised and reads them back in write order", async () => {
    const v = vectorFor(1, 16).map((x) => x * 40);
    await store.write("alice", [put("alice", "a", 1, { vector: v }), put("alice", "b", 2)]);

    const snapshot = await store.read("alice");

    expect(snapshot.images.map((i) => i.imageId)).toEqual(["a", "b"]);
    const row = snapshot.vectors.subarray(0, 16);
    expect(Math.hypot(...row)).toBeCloseTo(1, 5);
    const norm = Math.hypot(...v);
    for (const [k, x] of row.entries()) expect(x).toBeCloseTo(v[k] / norm, 5);
  });

  it("stores a redelivered image once", async () => {
    const event = put("alice", "a", 1);

    const first = await store.write("alice", [event]);
    const second = await store.write("alice", [event, event]);

    expect(first.results.map((r) => r.outcome)).toEqual(["stored"]);
    expect(second.results.map((r) => r.outcome)).toEqual(["duplicate", "duplicate"]);
    expect(second.appended).toBe(0);
    expect(ids(await store.read("alice"))).toEqual(["a"]);
  });

  it("remembers the newer sequencer of a re-upload with the same etag, so an older delete stays stale", async () => {
    await store.write("alice", [put("alice", "a", 1, { etag: "same" })]);

    const again = await store.write("alice", [put("alice", "a", 3, { etag: "same" })]);
    const lateDelete = await store.write("alice", [del("alice", "a", 2)]);

    expect(again.results[0].outcome).toBe("duplicate");
    expect(lateDelete.results[0].outcome).toBe("stale");
    expect(ids(await store.read("alice"))).toEqual(["a"]);
  });

  it("lets a newer upload replace the image and never lets a late older one win", async () => {
    const newer = put("alice", "a", 5, { etag: "new" });
    const older = put("alice", "a", 3, { etag: "old" });

    const results = [await store.write("alice", [put("alice", "a", 1)]), await store.write("alice", [newer]), await store.write("alice", [older])];

    expect(results.map((r) => r.results[0].outcome)).toEqual(["stored", "replaced", "stale"]);
    const snapshot = await store.read("alice");
    expect(snapshot.images).toEqual([{ imageId: "a", key: newer.key, etag: "new" }]);
  });

  it("compares sequencers of different lengths as hex numbers", async () => {
    const short = { ...put("alice", "a", 0, { etag: "short" }), sequencer: "FF" };
    const long = { ...put("alice", "a", 0, { etag: "long" }), sequencer: "0100" };

    await store.write("alice", [long, short]);

    expect((await store.read("alice")).images[0].etag).toBe("long");
  });

  it("breaks a tie of equal sequencers by the greater etag, whatever the arrival order", async () => {
    const x = { ...put("alice", "a", 9, { etag: "aaa" }) };
    const y = { ...put("alice", "a", 9, { etag: "bbb" }) };
    const other = openStore({ root, model, logger: quietLogger });

    await store.write("alice", [x, y]);
    await other.write("bob", [y, x]);

    expect((await store.read("alice")).images[0].etag).toBe("bbb");
    expect((await store.read("bob")).images[0].etag).toBe("bbb");
  });

  it("converges whatever order put, put and delete arrive in", async () => {
    const events = [put("u", "a", 1, { etag: "e1" }), put("u", "a", 2, { etag: "e2" }), del("u", "a", 3)];
    const orders = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ];

    for (const [n, order] of orders.entries()) {
      const user = `u${n}`;
      for (const i of order) await store.write(user, [events[i]]);
      expect(ids(await store.read(user))).toEqual([]);
    }
  });

  it("keeps a deleted image deleted when an older put arrives late, even if it was never stored", async () => {
    const write = await store.write("alice", [del("alice", "a", 10), put("alice", "a", 4)]);

    expect(write.results.map((r) => r.outcome)).toEqual(["absent", "stale"]);
    expect(ids(await store.read("alice"))).toEqual([]);
  });

  it("removes a deleted image from the snapshot and its graph", async () => {
    const same = vectorFor(5, 16);
    await store.write("alice", [put("alice", "a", 1, { vector: same }), put("alice", "b", 2, { vector: same }), put("alice", "c", 3)]);

    const result = await store.write("alice", [del("alice", "a", 4)]);

    expect(result.results[0].outcome).toBe("deleted");
    const snapshot = await store.read("alice");
    expect(ids(snapshot)).toEqual(["b", "c"]);
    expectGraphExact(snapshot, model.defaults.graphFloor);
  });

  it("rejects a vector of the wrong dimension or model with a clear error while the rest of the batch is stored", async () => {
    const wrongSize = put("alice", "bad", 2, { vector: new Float32Array(12).fill(1) });
    const wrongModel = { ...put("alice", "other", 3), model: "resnet50" };

    const result = await store.write("alice", [put("alice", "a", 1), wrongSize, wrongModel, put("alice", "b", 4)]);

    expect(result.results.map((r) => r.outcome)).toEqual(["stored", "error", "error", "stored"]);
    const [, e1, e2] = result.results as Array<{ error?: Error }>;
    expect(e1.error).toBeInstanceOf(ModelMismatchError);
    expect(e1.error!.message).toMatch(/12-d .*"test-model" stores 16-d/);
    expect(e2.error).toBeInstanceOf(ModelMismatchError);
    expect(e2.error!.message).toMatch(/"resnet50".*"test-model"/);
    expect(ids(await store.read("alice"))).toEqual(["a", "b"]);
  });

  it("refuses a zero vector instead of storing NaN", async () => {
    const result = await store.write("alice", [put("alice", "z", 1, { vector: new Float32Array(16) })]);

    expect(result.results[0]).toMatchObject({ outcome: "error", error: expect.any(InvalidVectorError) });
    expect((await store.read("alice")).images).toEqual([]);
  });

  it("refuses a file written for another model with an error naming both", async () => {
    await store.write("alice", [put("alice", "a", 1)]);
    const other = openStore({ root, model: testModel(32, 0.3, "test-model"), logger: quietLogger });

    await expect(other.read("alice")).rejects.toThrow(/"test-model" \(16-d\).*"test-model" \(32-d\)/);
    await expect(other.write("alice", [put("alice", "b", 2, { dimension: 32 })])).rejects.toBeInstanceOf(ModelMismatchError);
  });

  it("never builds a path from an unsafe user or image id", async () => {
    await expect(store.write("../etc", [put("x", "a", 1)])).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(store.read("a/b")).rejects.toBeInstanceOf(InvalidKeyError);
    const result = await store.write("alice", [put("alice", "../x", 1)]);
    expect(result.results[0]).toMatchObject({ outcome: "error", error: expect.any(InvalidKeyError) });
  });

  it("fails with a retryable LockTimeoutError when another holder keeps the lock past the wait", async () => {
    await store.write("alice", [put("alice", "a", 1)]);
    const paths = userPaths(root, "alice", model.id);
    const release = await lockfile.lock(paths.log, { lockfilePath: paths.lock, realpath: false, stale: 10_000 });
    const impatient = openStore({ root, model, lockWaitMs: 300, logger: quietLogger });

    try {
      const error = await impatient.write("alice", [put("alice", "b", 2)]).catch((e) => e);
      expect(error).toBeInstanceOf(LockTimeoutError);
      expect(error.retryable).toBe(true);
    } finally {
      await release();
    }
    expect((await impatient.write("alice", [put("alice", "b", 2)])).results[0].outcome).toBe("stored");
  });

  it("ignores a garbage partial frame when reading and cuts it on the next write", async () => {
    await store.write("alice", [put("alice", "a", 1)]);
    const { log } = userPaths(root, "alice", model.id);
    // A frame header promising 16 KiB, then 500 bytes: longer than the next record, so only a cut
    // tail leaves a log that parses to its end.
    await appendFile(log, Buffer.concat([Buffer.from([0, 0x40, 0, 0]), Buffer.alloc(500, 7)]));
    const { warnings, logger } = recordingLogger();
    const writer = openStore({ root, model, logger });

    expect(ids(await store.read("alice"))).toEqual(["a"]);
    await writer.write("alice", [put("alice", "b", 2)]);

    expect(warnings.some((w) => /torn tail/.test(w))).toBe(true);
    expect(ids(await store.read("alice"))).toEqual(["a", "b"]);
    expect(parseLog(await readFile(log), log)).toMatchObject({ tailBytes: 0, records: [expect.anything(), expect.anything()] });
  });

  it("lists the users that have a directory", async () => {
    await store.write("bob", [put("bob", "a", 1)]);
    await store.write("alice", [put("alice", "a", 1)]);
    await writeFile(`${root}/stray-file`, "x");

    expect(await store.listUsers()).toEqual(["alice", "bob"]);
  });
});
