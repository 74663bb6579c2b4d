import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { quietLogger, tempRoot, testModel } from "./fixtures/factories.ts";
import { readFile } from "node:fs/promises";
import { expectGraphExact } from "./fixtures/graph-check.ts";
import { openStore, userPaths } from "./index.ts";
import { parseLog } from "./format/log-file.ts";

const worker = fileURLToPath(new URL("./fixtures/append-worker.ts", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ root, cleanup } = await tempRoot()));
afterEach(() => cleanup());

/**
 * A writer process. `lockStaleMs` is how old a lock may get before another writer takes it over: 2 s
 * where writers are killed (the next must not wait long), 20 s where they all live, so a live writer
 * held up by a busy machine never has its lock taken.
 */
function startWorker(args: string[], lockStaleMs = 20_000): { child: ChildProcess; acked: string[]; done: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, ["--import", "tsx", worker, ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LOCK_STALE_MS: String(lockStaleMs) },
  });
  const acked: string[] = [];
  let buffered = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) if (line.startsWith("ack ")) acked.push(line.split(" ")[1]);
  });
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, acked, done, stderr: () => stderr };
}

describe("embedding store across processes", () => {
  it("ends with exactly 1000 readable records when 4 processes race 250 appends each", async () => {
    const workers = ["w1", "w2", "w3", "w4"].map((p) => startWorker([root, "alice", p, "250", "16"]));

    const codes = await Promise.all(workers.map((w) => w.done));

    expect(codes, workers.map((w) => w.stderr()).join("\n")).toEqual([0, 0, 0, 0]);
    const snapshot = await openStore({ root, model: testModel(16, 0.3), logger: quietLogger }).read("alice");
    expect(snapshot.images.length).toBe(1000);
    expect(new Set(snapshot.images.map((i) => i.imageId)).size).toBe(1000);
    const log = parseLog(await readFile(userPaths(root, "alice", "test-model").log), "log")!;
    expect(log.records.length).toBe(1000);
    expect(log.tailBytes).toBe(0);
    expect(snapshot.graph!.edges.a.length).toBeGreaterThan(0);
    expectGraphExact(snapshot, 0.3);
  }, 180_000);

  it("converges to each key's newest version when racing writers replace images and compact", async () => {
    const workers = ["c1", "c2", "c3"].map((p) => startWorker([root, "alice", p, "120", "16", "10", "15"]));

    const codes = await Promise.all(workers.map((w) => w.done));

    expect(codes, workers.map((w) => w.stderr()).join("\n")).toEqual([0, 0, 0]);
    const snapshot = await openStore({ root, model: testModel(16, 0.3), logger: quietLogger }).read("alice");
    const etags = Object.fromEntries(snapshot.images.map((i) => [i.imageId, i.etag]));
    const expected: Record<string, string> = {};
    for (const p of ["c1", "c2", "c3"]) for (let i = 0; i < 120; i++) expected[`${p}-${i % 10}`] = `e${i}`;
    expect(etags).toEqual(expected);
    const log = parseLog(await readFile(userPaths(root, "alice", "test-model").log), "log")!;
    expect(log.records.length).toBeLessThan(360); // compactions happened
    expectGraphExact(snapshot, 0.3);
  }, 180_000);

  it("keeps every acknowledged record when writers are killed mid-append, and the next writer repairs the file", async () => {
    const model = testModel(1280, 0.3);
    const acked: string[] = [];
    for (const [round, killAfter] of [5, 17, 29].entries()) {
      const w = startWorker([root, "alice", `k${round + 1}`, "forever", "1280"], 2_000);
      await new Promise<void>((resolve, reject) => {
        const timer = setInterval(() => {
          if (w.acked.length < killAfter) return;
          clearInterval(timer);
          w.child.kill("SIGKILL");
          resolve();
        }, 1);
        w.done.then(() => reject(new Error(`worker exited early: ${w.stderr()}`)));
      });
      await w.done;
      acked.push(...w.acked);

      const afterCrash = await openStore({ root, model, logger: quietLogger }).read("alice");
      const stored = new Set(afterCrash.images.map((i) => i.imageId));
      for (const id of acked) expect(stored.has(id), id).toBe(true);
    }
    const store = openStore({ root, model, lockStaleMs: 2_000, logger: quietLogger });

    const next = await store.write("alice", [
      { kind: "put", key: "users/alice/after.jpg", imageId: "after", etag: "e", sequencer: "FFFFFFFFFF", vector: new Float32Array(1280).fill(1) },
    ]);

    expect(next.results[0].outcome).toBe("stored");
    const repaired = await store.read("alice");
    const log = parseLog(await readFile(userPaths(root, "alice", model.id).log), "log")!;
    expect(log.tailBytes).toBe(0);
    expect(repaired.images.length).toBe(log.records.length);
    expect(repaired.images.map((i) => i.imageId)).toEqual(expect.arrayContaining([...acked, "after"]));
    expectGraphExact(repaired, 0.3);
  }, 90_000);
});
