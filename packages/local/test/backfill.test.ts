import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { type EmbeddingStore, jsonLogger, mobilenetV2Int8, openStore, parseObjectKey } from "@photo-clusters/core";
import { startModelServer, type ModelServer } from "@photo-clusters/model-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../src/emulator.ts";
import { localPollerHandler } from "../src/local-poller.ts";

const SHARED = join(import.meta.dirname, "../../../../shared");
const PHOTOS = join(SHARED, "data/dev-photos");
const CLI = join(import.meta.dirname, "../src/cli/main.ts");

describe("backfill of a bucket that held photos before the pipeline", () => {
  let emulator: Emulator;
  let modelServer: ModelServer;
  let dataDir: string;
  let files: string[];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "backfill-test-"));
    modelServer = await startModelServer({ port: 0, model: mobilenetV2Int8, modelPath: join(SHARED, "models/mobilenetv2-12-int8.onnx") });
    // No bridge: these objects were uploaded before anything listened.
    emulator = await startEmulator();
    files = (await readdir(PHOTOS)).filter((f) => f.endsWith(".jpg")).slice(0, 40);
    for (const f of files)
      await emulator.s3.send(
        new PutObjectCommand({ Bucket: "photos", Key: `users/erin/${f}`, Body: await readFile(join(PHOTOS, f)), ContentType: "image/jpeg" }),
      );
    await modelServer.ready;
  });
  afterAll(async () => {
    await emulator?.stop();
    await modelServer?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const cli = (args: string[]) =>
    spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
      env: { ...process.env, EMULATOR_PORT: new URL(emulator.endpoint).port, DATA_DIR: dataDir, NODE_NO_WARNINGS: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
  const finished = (child: ReturnType<typeof spawn>) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      let stderr = "";
      child.stderr!.on("data", (d) => (stderr += d));
      child.on("close", (code) => resolve({ code, stderr }));
    });

  it("stores every object exactly once when killed mid-run and run again", async () => {
    // Act: start at 10 messages a second (4 s for the 40), kill it once its first checkpoint is written
    // (after 10), run it again to the end.
    const first = cli(["backfill", "--rate", "10"]);
    const firstDone = finished(first);
    const checkpoints = join(dataDir, ".backfill");
    // Only a renamed .json is a checkpoint: a kill between writing its .tmp and the rename leaves nothing to resume from.
    let exited = false;
    void firstDone.then(() => (exited = true));
    while (!existsSync(checkpoints) || !(await readdir(checkpoints)).some((f) => f.endsWith(".json"))) {
      if (exited) throw new Error("the first backfill ended before its first checkpoint was seen");
      await new Promise((r) => setTimeout(r, 20));
    }
    first.kill("SIGKILL");
    await firstDone;
    const second = await finished(cli(["backfill", "--rate", "200"]));

    const store = openStore({ root: dataDir, model: mobilenetV2Int8 });
    const { received, outcomes } = await drain(store);

    // Assess
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/resumed after users\/erin\//);
    expect(received).toBeGreaterThanOrEqual(files.length);
    expect(received).toBeLessThanOrEqual(files.length + 10); // at most the one batch in flight at the kill is sent again
    expect(outcomes.filter((o) => o === "stored")).toHaveLength(files.length);
    expect((await store.read("erin")).images.map((i) => i.key).sort()).toEqual(files.map((f) => `users/erin/${f}`).sort());
  });

  /** Drains the queue through the real poller into the real store. */
  async function drain(store: EmbeddingStore): Promise<{ received: number; outcomes: string[] }> {
    const outcomes: string[] = [];
    const logger = jsonLogger(
      {},
      {
        write: (line) => {
          const l = JSON.parse(line);
          if (l.message === "record written") outcomes.push(l.outcome);
        },
      },
    );
    const handler = localPollerHandler({ s3: emulator.s3, modelServerUrl: modelServer.url, store, model: mobilenetV2Int8, logger });
    let received = 0;
    for (;;) {
      const { Messages = [] } = await emulator.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: emulator.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      if (Messages.length === 0) break;
      received += Messages.length;
      const { batchItemFailures } = await handler({ Records: Messages.map((m) => ({ messageId: m.MessageId!, body: m.Body! })) });
      expect(batchItemFailures).toEqual([]);
      await emulator.sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: emulator.queueUrl, Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
      );
    }
    return { received, outcomes };
  }

  it("skips what is already stored when run again, and a dry run sends nothing", async () => {
    const dry = await finished(cli(["backfill", "--dry-run"]));
    expect(dry.stderr).toMatch(new RegExp(`dry run: would enqueue 0 of ${files.length} objects; ${files.length} already stored`));
    const { Messages = [] } = await emulator.sqs.send(new ReceiveMessageCommand({ QueueUrl: emulator.queueUrl, MaxNumberOfMessages: 10 }));
    expect(Messages).toEqual([]);
  });

  it("fills in the facts of photos stored before facts existed, with --reembed", async () => {
    // Prepare: three photos in the bucket, stored as a store written before facts would hold them
    const store = openStore({ root: dataDir, model: mobilenetV2Int8 });
    const keys = files.slice(0, 3).map((f) => `users/fern/${f}`);
    for (const [i, key] of keys.entries()) {
      await emulator.s3.send(new PutObjectCommand({ Bucket: "photos", Key: key, Body: await readFile(join(PHOTOS, files[i]!)), ContentType: "image/jpeg" }));
      const { ETag } = await emulator.s3.send(new HeadObjectCommand({ Bucket: "photos", Key: key }));
      const vector = Float32Array.from({ length: mobilenetV2Int8.dimension }, (_, k) => Math.sin(k + i));
      await store.write("fern", [{ kind: "put", key, imageId: parseObjectKey(key).imageId, etag: ETag!.replaceAll('"', ""), sequencer: "01", vector }]);
    }
    const factsNow = async () => {
      const view = await store.readView("fern");
      return Array.from({ length: view.rows }, (_, row) => view.facts(row));
    };
    expect(await factsNow()).toEqual([null, null, null]);

    // Act
    const run = await finished(cli(["backfill", "--reembed", "--prefix", "users/fern/"]));
    await drain(store);

    // Assess: every photo has its facts, read from its own bytes
    expect(run.code).toBe(0);
    const facts = await factsNow();
    expect(facts.map((f) => f?.bytes)).toEqual(await Promise.all(files.slice(0, 3).map(async (f) => (await readFile(join(PHOTOS, f))).length)));
    expect(facts.every((f) => f?.format === "jpeg" && f.width > 0 && f.sharpness > 0)).toBe(true);
  });
});
