import { spawn } from "node:child_process";
import { cp, rm, stat, truncate } from "node:fs/promises";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clusterEdges, clusterVectors, type ClusterOptions } from "../../similarity/index.ts";
import { del, put, quietLogger, tempRoot, testModel } from "../fixtures/factories.ts";
import { openStore, userPaths, type EmbeddingStore, type UserView } from "../index.ts";

const worker = fileURLToPath(new URL("../fixtures/command-worker.ts", import.meta.url));
const legacy = fileURLToPath(new URL("../fixtures/format-v1", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../../../../", import.meta.url));
const model = testModel(16, 0.3);
const opts: ClusterOptions = { threshold: 0.45, floor: 0.3, minSize: 2, bands: { medium: 0.6, high: 0.8 } };

let root: string;
let cleanup: () => Promise<void>;
let store: EmbeddingStore;
beforeEach(async () => {
  ({ root, cleanup } = await tempRoot());
  store = openStore({ root, model, logger: quietLogger });
});
afterEach(() => cleanup());

/** Clusters of a view's graph, each as its sorted image ids; the answer's order does not matter here. */
function fromGraph(view: UserView): string[] {
  expect(view.graph).not.toBeNull();
  return clusterEdges(view.rows, view.graph!.edges, opts)
    .filter((c) => c.members.every((row) => view.live(row)))
    .map((c) =>
      c.members
        .map((row) => view.imageId(row))
        .sort()
        .join(","),
    )
    .sort();
}

/** The same from every pair of the stored vectors (the exact path, no graph involved). */
async function fromAllPairs(userId: string): Promise<string[]> {
  const s = await store.read(userId);
  return clusterVectors(s.vectors, s.images.length, s.dimension, opts)
    .map((c) =>
      c.members
        .map((i) => s.images[i].imageId)
        .sort()
        .join(","),
    )
    .sort();
}

const liveIds = (view: UserView) =>
  Array.from({ length: view.rows }, (_, r) => r)
    .filter((r) => view.live(r))
    .map((r) => view.imageId(r))
    .sort();

describe("reading a user's view without vectors", () => {
  it("answers from the refs and graph files with the log file gone", async () => {
    await store.write(
      "alice",
      Array.from({ length: 30 }, (_, i) => put("alice", `p${i}`, i + 1)),
    );
    await store.write("alice", [put("alice", "p3", 40), del("alice", "p7", 41)]);
    const want = await fromAllPairs("alice");

    await rm(userPaths(root, "alice", model.id).log);
    const view = await openStore({ root, model, logger: quietLogger }).readView("alice");

    expect(view.vectors).toBeNull();
    expect(view.imageCount).toBe(29);
    expect(liveIds(view)).not.toContain("p7");
    expect(fromGraph(view)).toEqual(want);
    expect(view.key(view.rowOf("p3"))).toBe("users/alice/p3.jpg");
    expect(view.rowOf("p7")).toBe(-1);
  });

  it("refreshes across another process's appends, deletes and a compaction, giving exactly the clusters of all pairs", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", worker, root, "bob", "16"], { cwd: repoRoot, stdio: ["pipe", "pipe", "inherit"] });
    const replies = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const send = async (line: string) => {
      child.stdin!.write(`${line}\n`);
      expect((await replies.next()).value).toBe("ok");
    };
    const reader = openStore({ root, model, logger: quietLogger });
    try {
      let seq = 0;
      for (let i = 0; i < 40; i++) await send(`put b${i} ${++seq}`);
      let view = await reader.readView("bob");
      expect(fromGraph(view)).toEqual(await fromAllPairs("bob"));
      const steps = [
        ...Array.from({ length: 5 }, (_, i) => `put n${i} ${100 + i}`),
        "del b3 200",
        "put b5 201",
        "del b9 202",
        "put b3 203",
        "del nobody 204",
        "compact",
        "put c1 300",
        "del b0 301",
        "put b1 302",
      ];
      for (const step of steps) {
        await send(step);
        const previous = view;
        view = await reader.readView("bob", view);
        // Files that only grew are read from where the last read stopped, into the same view.
        if (step !== "compact") expect(view, step).toBe(previous);
        expect(view.vectors, step).toBeNull();
        expect(fromGraph(view), step).toEqual(await fromAllPairs("bob"));
        expect(liveIds(view), step).toEqual((await store.read("bob")).images.map((i) => i.imageId).sort());
      }
    } finally {
      child.stdin!.end();
      await new Promise((resolve) => child.on("exit", resolve));
    }
  }, 60_000);

  it("does not take a torn refs frame for rows", async () => {
    await store.write("carol", [put("carol", "a", 1), put("carol", "b", 2)]);
    const before = await store.readView("carol");
    const { refs } = userPaths(root, "carol", model.id);
    const size = (await stat(refs)).size;
    await store.write("carol", [put("carol", "c", 3)]);
    await truncate(refs, size + 10); // the last frame, cut mid-write

    const view = await openStore({ root, model, logger: quietLogger }).readView("carol");
    const refreshed = await store.readView("carol", before);

    expect(liveIds(view)).toEqual(["a", "b"]);
    expect(liveIds(refreshed)).toEqual(["a", "b"]);
  });

  it("shows the rows a graph that lost its last frame in a crash covers, and all of them after the next write", async () => {
    await store.write(
      "dave",
      Array.from({ length: 20 }, (_, i) => put("dave", `d${i}`, i + 1)),
    );
    const { graph } = userPaths(root, "dave", model.id);
    const size = (await stat(graph)).size;
    await store.write("dave", [put("dave", "late", 50)]);
    await truncate(graph, size); // the frame was written but never synced

    const view = await openStore({ root, model, logger: quietLogger }).readView("dave");
    const before = { count: view.imageCount, ids: liveIds(view) };
    await openStore({ root, model, logger: quietLogger }).write("dave", [put("dave", "later", 51)]);
    const after = await store.readView("dave", view);

    expect(before.count).toBe(20);
    expect(before.ids).not.toContain("late");
    expect(after.imageCount).toBe(22);
    expect(fromGraph(after)).toEqual(await fromAllPairs("dave"));
  });
});

describe("files written before the refs file existed (format 1)", () => {
  it("are read as they are, then upgraded by migrate, with the same answer", async () => {
    await cp(legacy, root, { recursive: true });
    const paths = userPaths(root, "legacy", model.id);
    const old = await store.readView("legacy");
    expect(old.vectors).not.toBeNull(); // read whole: there is no refs file yet
    expect(liveIds(old)).toEqual(["a", "b", "d", "e"]);
    expect(fromGraph(old)).toEqual(["a,d"]);

    const result = await store.migrate("legacy");
    const upgraded = await openStore({ root, model, logger: quietLogger }).readView("legacy");

    expect(result).toEqual({ userId: "legacy", upgraded: true, records: 7 });
    expect((await stat(paths.refs)).size).toBeGreaterThan(0);
    expect(upgraded.vectors).toBeNull();
    expect(liveIds(upgraded)).toEqual(["a", "b", "d", "e"]);
    expect(fromGraph(upgraded)).toEqual(["a,d"]);
    expect(await store.migrate("legacy")).toMatchObject({ upgraded: false });
  });

  it("are never seen empty by a reader while another process upgrades them", async () => {
    const wide = testModel(256, 0.3);
    const writer = openStore({ root, model: wide, logger: quietLogger });
    for (let i = 0; i < 2000; i += 250)
      await writer.write(
        "erin",
        Array.from({ length: 250 }, (_, k) => put("erin", `e${i + k}`, i + k + 1, { dimension: 256 })),
      );
    await rm(userPaths(root, "erin", wide.id).refs); // what format 1 leaves
    const child = spawn(process.execPath, ["--import", "tsx", worker, root, "erin", "256"], { cwd: repoRoot, stdio: ["pipe", "pipe", "inherit"] });
    const replies = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();

    child.stdin!.write("migrate\n");
    let done = false;
    const migrated = replies.next().then((reply) => {
      done = true;
      return reply.value;
    });
    const counts: number[] = [];
    while (!done) {
      const view = await openStore({ root, model: wide, logger: quietLogger }).readView("erin");
      counts.push(view.imageCount);
    }
    child.stdin!.end();
    await new Promise((resolve) => child.on("exit", resolve));

    expect(await migrated).toBe("ok");
    expect(counts.length).toBeGreaterThan(0);
    expect(new Set(counts)).toEqual(new Set([2000]));
    expect((await openStore({ root, model: wide, logger: quietLogger }).readView("erin")).vectors).toBeNull();
  }, 60_000);

  it("are upgraded by their next write too", async () => {
    await cp(legacy, root, { recursive: true });

    await store.write("legacy", [put("legacy", "f", 10)]);
    const view = await store.readView("legacy");

    expect(view.vectors).toBeNull();
    expect(liveIds(view)).toEqual(["a", "b", "d", "e", "f"]);
    expect(fromGraph(view)).toEqual(await fromAllPairs("legacy"));
  });
});
