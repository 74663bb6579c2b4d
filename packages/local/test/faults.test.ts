/** The local runtime through its parts failing: the real runtime, real processes, real signals. */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { jsonLogger, mobilenetV2Int8, openStore, parseLog, userPaths } from "@photo-clusters/core";
import { localClients } from "../src/emulator.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { superviseModelServer } from "../src/model-server-supervisor.ts";
import { PHOTOS, SHARED, startTestRuntime, type TestRuntime } from "./test-runtime.ts";

describe("the local runtime when its parts fail", () => {
  let runtime: TestRuntime;
  const logs: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    runtime = await startTestRuntime({ onLog: (entry) => logs.push(entry) });
  });
  afterAll(() => runtime?.stop());

  it("stores every photo exactly once when the model server is killed mid-ingest, restarting it", async () => {
    const files = (await readdir(PHOTOS))
      .filter((f) => f.endsWith(".jpg"))
      .sort()
      .slice(0, 40);
    const stored = async () => (await runtime.store.readView("kim")).imageCount;
    const killed = runtime.modelServerPid;
    const urlBefore = runtime.modelServerUrl;
    // Act: upload, and SIGKILL the model server once a few photos are in
    const uploads = (async () => {
      for (const f of files) {
        await runtime.emulator.s3.send(
          new PutObjectCommand({ Bucket: "photos", Key: `users/kim/${f}`, Body: await readFile(join(PHOTOS, f)), ContentType: "image/jpeg" }),
        );
      }
    })();
    for (let i = 0; i < 300 && (await stored()) < 3; i++) await new Promise((r) => setTimeout(r, 50));
    const atKill = await stored();
    process.kill(killed, "SIGKILL");
    await uploads;
    for (let i = 0; i < 600 && (await stored()) < files.length; i++) await new Promise((r) => setTimeout(r, 200));
    // On a busy machine the photos in flight may all be stored before the restart is through: wait for it.
    for (let i = 0; i < 150 && !logs.some((l) => l.message === "model server restarted"); i++) await new Promise((r) => setTimeout(r, 200));
    // Assess
    expect(atKill).toBeGreaterThanOrEqual(3);
    expect(atKill).toBeLessThan(files.length); // killed mid-ingest
    expect(await stored()).toBe(files.length);
    const log = parseLog(await readFile(userPaths(runtime.dataDir, "kim", mobilenetV2Int8.id).log), "log")!;
    expect(log.records).toHaveLength(files.length); // each stored once: no record written twice
    expect(runtime.modelServerPid).not.toBe(killed);
    expect(runtime.modelServerUrl).not.toBe(urlBefore); // the new server bound a port of its own, and the poller followed it
    expect(logs.some((l) => l.message === "model server down; restarting")).toBe(true);
    expect(logs.some((l) => l.message === "model server restarted")).toBe(true);
    const dead = await runtime.emulator.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: runtime.emulator.deadLetterQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    expect(dead.Messages ?? []).toEqual([]);
  }, 180_000);
});

describe("a model server slower than the poller's timeout", () => {
  let runtime: TestRuntime;
  const logs: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    // Each embedding attempt is abandoned after 1 s; the supervisor pings every 5 s, so a server stalled
    // for 6 s is waited for, not restarted: what is tested is the poller's timeout and retries.
    runtime = await startTestRuntime({
      visibilityTimeoutSeconds: 3,
      maxReceiveCount: 6,
      embedTimeoutMs: 1_000,
      modelServerPingMs: 5_000,
      onLog: (entry) => logs.push(entry),
    });
  });
  afterAll(() => runtime?.stop());

  it("retries the photos it timed out on, and stores each exactly once when the server answers again", async () => {
    const files = (await readdir(PHOTOS))
      .filter((f) => f.endsWith(".jpg"))
      .sort()
      .slice(40, 60);
    const stored = async () => (await runtime.store.readView("lee")).imageCount;
    const upload = async (names: string[]) => {
      for (const f of names)
        await runtime.emulator.s3.send(
          new PutObjectCommand({ Bucket: "photos", Key: `users/lee/${f}`, Body: await readFile(join(PHOTOS, f)), ContentType: "image/jpeg" }),
        );
    };
    const server = runtime.modelServerPid;
    await upload(files.slice(0, 5));
    for (let i = 0; i < 300 && (await stored()) < 5; i++) await new Promise((r) => setTimeout(r, 100));
    // Act: stop the model server (SIGSTOP: it holds requests unanswered) and upload the rest, which reach
    // it after the queue's 1 s delay; 8 s later, beyond four 1 s attempts and their backoff, let it go on.
    process.kill(server, "SIGSTOP");
    try {
      await upload(files.slice(5));
      await new Promise((r) => setTimeout(r, 8_000));
    } finally {
      process.kill(server, "SIGCONT");
    }
    for (let i = 0; i < 600 && (await stored()) < files.length; i++) await new Promise((r) => setTimeout(r, 200));
    // On a busy machine the photos in flight may all be stored before the restart is through: wait for it.
    for (let i = 0; i < 150 && !logs.some((l) => l.message === "model server restarted"); i++) await new Promise((r) => setTimeout(r, 200));
    // Assess
    const timedOut = logs.filter((l) => l.message === "record failed" && l.code === "endpoint_unavailable" && /TimeoutError/.test(String(l.reason)));
    expect(timedOut.length).toBeGreaterThan(0); // the poller gave up on the stalled server, and the queue retried
    expect(await stored()).toBe(files.length);
    const log = parseLog(await readFile(userPaths(runtime.dataDir, "lee", mobilenetV2Int8.id).log), "log")!;
    expect(log.records).toHaveLength(files.length); // each once, although stalled requests were answered late
    expect(runtime.modelServerPid).toBe(server); // slow, not dead: never restarted
    const dead = await runtime.emulator.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: runtime.emulator.deadLetterQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    expect(dead.Messages ?? []).toEqual([]);
  }, 180_000);
});

describe("the model server's supervisor", () => {
  it("gives up, saying why, when the server keeps dying faster than it may restart", async () => {
    const logs: Array<Record<string, unknown>> = [];
    let gaveUp: Error | undefined;
    const server = await superviseModelServer({
      modelPath: join(SHARED, "models/mobilenetv2-12-int8.onnx"),
      model: mobilenetV2Int8,
      maxRestarts: 1,
      logger: jsonLogger({}, { write: (line) => logs.push(JSON.parse(line)) }),
      onGiveUp: (error) => (gaveUp = error),
    });
    try {
      const first = server.pid();
      process.kill(first, "SIGKILL");
      for (let i = 0; i < 200 && server.pid() === first; i++) await new Promise((r) => setTimeout(r, 50));
      await server.whenHealthy();
      process.kill(server.pid(), "SIGKILL");
      for (let i = 0; i < 200 && !gaveUp; i++) await new Promise((r) => setTimeout(r, 50));

      expect(server.pid()).not.toBe(first);
      expect(gaveUp?.message).toMatch(/the model server failed 2 times within 60 s \(last: exited with code null\); giving up/);
      expect(logs.filter((l) => l.message === "model server down; restarting")).toHaveLength(1);
    } finally {
      await server.close();
    }
  }, 60_000);
});

describe("pnpm start killed with SIGKILL mid-ingest", () => {
  const START = join(import.meta.dirname, "../src/start.ts");
  const freePort = () =>
    new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });

  it("keeps the photos it stored; after a restart, what the user uploads again is stored once", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "faults-kill-"));
    const [port, emulatorPort] = [await freePort(), await freePort()];
    const env = { ...process.env, NODE_NO_WARNINGS: "1", PORT: String(port), EMULATOR_PORT: String(emulatorPort), DATA_DIR: dataDir, QUEUE_DELAY_SECONDS: "0" };
    const processes: ReturnType<typeof spawn>[] = [];
    const run = () => {
      const child = spawn(process.execPath, ["--import", "tsx", START], { env, stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      processes.push(child);
      child.stderr!.on("data", (d) => (stderr += d));
      const running = (async () => {
        for (let i = 0; i < 600 && !stderr.includes("photo-clusters is running"); i++) await new Promise((r) => setTimeout(r, 100));
      })();
      return { child, running, exited: new Promise((resolve) => child.on("close", resolve)), stderr: () => stderr };
    };
    const store = openStore({ root: dataDir, model: mobilenetV2Int8, logger: { warn() {}, error() {}, debug() {} } });
    const stored = async () => (await store.readView("lee")).imageCount;
    const files = (await readdir(PHOTOS))
      .filter((f) => f.endsWith(".jpg"))
      .sort()
      .slice(40, 70);
    const upload = async () => {
      const { s3 } = localClients(`http://127.0.0.1:${emulatorPort}`);
      for (const f of files)
        await s3.send(new PutObjectCommand({ Bucket: "photos", Key: `users/lee/${f}`, Body: await readFile(join(PHOTOS, f)), ContentType: "image/jpeg" }));
      s3.destroy();
    };
    try {
      // Act: the first run is killed once some photos are stored, the upload still going (it fails
      // with the emulator) or ingest still behind it
      const first = run();
      await first.running;
      expect(first.stderr()).toContain("photo-clusters is running");
      let killed = false;
      let failedBeforeKill: unknown;
      const uploading = upload().catch((error) => {
        if (!killed) failedBeforeKill = error;
      });
      for (let i = 0; i < 300 && (await stored()) < 5; i++) await new Promise((r) => setTimeout(r, 50));
      const kept = await stored();
      killed = true;
      first.child.kill("SIGKILL");
      await first.exited;
      await uploading;
      expect(failedBeforeKill).toBeUndefined();
      // The emulated S3 and SQS lived in that process: the user uploads the folder again.
      const second = run();
      await second.running;
      await upload();
      for (let i = 0; i < 600 && (await stored()) < files.length; i++) await new Promise((r) => setTimeout(r, 200));
      second.child.kill("SIGTERM");
      await second.exited;
      // Assess
      expect(kept).toBeGreaterThanOrEqual(5);
      expect(kept).toBeLessThan(files.length); // killed mid-ingest
      expect(await stored()).toBe(files.length);
      // Each photo once: a re-upload of the same bytes is a duplicate of the stored image (a record
      // may note its newer event, but never a second image).
      const snapshot = await store.read("lee");
      expect(snapshot.images.map((i) => i.key).sort()).toEqual(files.map((f) => `users/lee/${f}`).sort());
      expect(snapshot.vectors.length).toBe(files.length * mobilenetV2Int8.dimension);
    } finally {
      for (const p of processes) p.kill("SIGKILL");
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});
