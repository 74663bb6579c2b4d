import { appendFile, readFile, stat } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EdgeList } from "./format/edge-list.ts";
import { put, recordingLogger, tempRoot, testModel, vectorFor } from "./fixtures/factories.ts";
import { expectGraphExact } from "./fixtures/graph-check.ts";
import { encodeGraphFrame } from "./format/graph-file.ts";
import { openStore, userPaths } from "./index.ts";
import { parseLog } from "./format/log-file.ts";
import { encodeRecord } from "./format/record-codec.ts";

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ root, cleanup } = await tempRoot()));
afterEach(() => cleanup());

const model = testModel(16, 0.3);
const ids = (s: { images: { imageId: string }[] }) => s.images.map((i) => i.imageId);

async function seeded() {
  const { warnings, logger } = recordingLogger();
  const store = openStore({ root, model, logger });
  await store.write("alice", [put("alice", "a", 1, { vector: vectorFor(1, 16) }), put("alice", "b", 2, { vector: vectorFor(1, 16) })]);
  return { store, warnings, paths: userPaths(root, "alice", model.id) };
}

describe("crash leftovers", () => {
  it("reads past half a record left by a crash, and the next writer cuts it", async () => {
    const { store, warnings, paths } = await seeded();
    const clean = (await stat(paths.log)).size;
    // An id longer than the next record's, so that only a cut tail leaves no trace of it.
    const { frame } = encodeRecord({ ...put("alice", `torn${"x".repeat(120)}`, 3), vector: vectorFor(3, 16) });
    await appendFile(paths.log, frame.subarray(0, frame.length - 7));

    const during = await store.read("alice");
    const next = recordingLogger();
    await openStore({ root, model, logger: next.logger }).write("alice", [put("alice", "c", 4)]);
    const after = await store.read("alice");

    expect(ids(during)).toEqual(["a", "b"]);
    expectGraphExact(during, 0.3);
    expect(ids(after)).toEqual(["a", "b", "c"]);
    expectGraphExact(after, 0.3);
    const bytes = await readFile(paths.log);
    expect(bytes.includes(Buffer.from("torn"))).toBe(false);
    expect(parseLog(bytes, paths.log)).toMatchObject({ tailBytes: 0, validEnd: bytes.length });
    expect(bytes.length).toBeGreaterThan(clean);
    expect(warnings).toEqual([]);
    expect(next.warnings.some((w) => /torn tail/.test(w))).toBe(true);
  });

  it("ignores a graph frame whose records never reached the log (crash between the two appends)", async () => {
    const { store, paths } = await seeded();
    const edges = new EdgeList();
    edges.push(0, 2, 0.99);
    await appendFile(paths.graph, encodeGraphFrame(2, 3, 0xdeadbeef, edges));

    const during = await store.read("alice");
    await store.write("alice", [put("alice", "c", 4)]);
    const after = await store.read("alice");

    expectGraphExact(during, 0.3);
    expect(ids(after)).toEqual(["a", "b", "c"]);
    expectGraphExact(after, 0.3);
  });

  it("reads the graph past half a graph frame and repairs it on the next write", async () => {
    const { store, paths } = await seeded();
    const edges = new EdgeList();
    edges.push(0, 1, 0.5);
    const frame = encodeGraphFrame(2, 3, 1, edges);
    await appendFile(paths.graph, frame.subarray(0, 10));

    const during = await store.read("alice");
    await store.write("alice", [put("alice", "c", 4)]);

    expectGraphExact(during, 0.3);
    expectGraphExact(await store.read("alice"), 0.3);
  });
});
