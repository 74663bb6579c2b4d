import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { parseObjectKey, s3EventMessage } from "@photo-clusters/core";
import { readInventory, type ListedObject } from "./object-listing.ts";
import { progressBar } from "./progress.ts";

/**
 * Enqueues S3-event-shaped messages for objects that are already in a bucket. Backfilled events carry
 * the lowest sequencer, so any real event for the same key wins over them; the writer's
 * (key, etag) idempotency makes a message sent twice (after a resume) store once.
 */
export const BACKFILL_SEQUENCER = "0";

export interface BackfillOptions {
  sqs: SQSClient;
  queueUrl: string;
  bucket: string;
  prefix: string;
  /** Objects come from this S3 Inventory report instead of listing the bucket. */
  listing: { kind: "bucket"; list: (startAfter?: string) => AsyncIterable<ListedObject> } | { kind: "inventory"; path: string };
  /** Messages per second at most. */
  rate: number;
  dryRun: boolean;
  /** Already stored with this etag (and the configured model): skip. */
  isStored(object: ListedObject): Promise<boolean>;
  checkpointDir: string;
  /** Names the run's purpose (e.g. "reembed") so its checkpoint is its own. */
  mode?: string;
  quiet?: boolean;
}

export interface BackfillResult {
  listed: number;
  enqueued: number;
  skipped: number;
  invalid: number;
  resumedAfter?: string;
}

interface Checkpoint {
  /** Objects of the source already handled, in its order. */
  done: number;
  lastKey?: string;
  enqueued: number;
  skipped: number;
  invalid: number;
}

export async function backfill(options: BackfillOptions): Promise<BackfillResult> {
  // One checkpoint per (bucket, prefix, source, queue, mode): a re-embed never resumes a plain backfill's run.
  const source = options.listing.kind === "inventory" ? options.listing.path : "list";
  const checkpointPath = join(options.checkpointDir, `backfill-${hash(options.bucket, options.prefix, source, options.queueUrl, options.mode ?? "")}.json`);
  const saved = options.dryRun ? undefined : await readCheckpoint(checkpointPath);
  const state: Checkpoint = saved ?? { done: 0, enqueued: 0, skipped: 0, invalid: 0 };
  const objects =
    options.listing.kind === "bucket" ? options.listing.list(state.lastKey) : skip(readInventory(options.listing.path, options.prefix), state.done);
  const bar = options.quiet ? undefined : progressBar(undefined, options.dryRun ? "would enqueue" : "backfill");
  const started = performance.now();
  let sentThisRun = 0;
  let batch: ListedObject[] = [];

  const flush = async () => {
    if (batch.length === 0) return;
    if (!options.dryRun) {
      await sendAll(
        options.sqs,
        options.queueUrl,
        batch.map((o) =>
          s3EventMessage({
            kind: "put",
            eventName: "ObjectCreated:Put",
            bucket: options.bucket,
            key: o.key,
            etag: o.etag,
            size: o.size,
            sequencer: BACKFILL_SEQUENCER,
          }),
        ),
      );
      sentThisRun += batch.length;
      // Stay under the rate: by now this run may have sent at most rate × elapsed messages.
      const ahead = sentThisRun / options.rate - (performance.now() - started) / 1000;
      if (ahead > 0) await new Promise((r) => setTimeout(r, ahead * 1000));
    }
    state.enqueued += batch.length;
    batch = [];
  };

  for await (const object of objects) {
    if (!isValidKey(object.key)) state.invalid++;
    else if (await options.isStored(object)) state.skipped++;
    else batch.push(object);
    if (batch.length === 10) await flush();
    state.done++;
    state.lastKey = object.key;
    if (batch.length === 0 && !options.dryRun) await writeCheckpoint(checkpointPath, state);
    bar?.update(state.done, `(${state.enqueued} enqueued, ${state.skipped} already stored, ${state.invalid} invalid keys)`);
  }
  await flush();
  if (!options.dryRun) await writeCheckpoint(checkpointPath, { ...state, lastKey: undefined, done: 0 });
  bar?.done(state.done, `(${state.enqueued} enqueued, ${state.skipped} already stored, ${state.invalid} invalid keys)`);
  return { listed: state.done, enqueued: state.enqueued, skipped: state.skipped, invalid: state.invalid, resumedAfter: saved?.lastKey };
}

async function sendAll(sqs: SQSClient, queueUrl: string, bodies: string[]): Promise<void> {
  let entries = bodies.map((body, i) => ({ Id: String(i), MessageBody: body }));
  for (let attempt = 0; entries.length > 0; attempt++) {
    if (attempt === 5) throw new Error(`SendMessageBatch kept failing for ${entries.length} messages`);
    const { Failed = [] } = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    const failed = new Set(Failed.map((f) => f.Id));
    entries = entries.filter((e) => failed.has(e.Id));
    if (entries.length) await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
  }
}

function isValidKey(key: string): boolean {
  try {
    parseObjectKey(key);
    return true;
  } catch {
    return false;
  }
}

async function* skip<T>(source: AsyncIterable<T>, count: number): AsyncGenerator<T> {
  let i = 0;
  for await (const item of source) if (i++ >= count) yield item;
}

function hash(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, 16);
}

async function readCheckpoint(path: string): Promise<Checkpoint | undefined> {
  try {
    const saved = JSON.parse(await readFile(path, "utf8")) as Checkpoint;
    return saved.lastKey === undefined ? undefined : saved;
  } catch {
    return undefined;
  }
}

async function writeCheckpoint(path: string, state: Checkpoint): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(`${path}.tmp`, JSON.stringify(state));
  await rename(`${path}.tmp`, path);
}
