import { CoreError } from "../errors.ts";
import type { PhotoFacts } from "../facts/photo-facts.ts";
import { isValidId, parseObjectKey } from "../keys.ts";
import type { Logger } from "../logger.ts";
import { type Metrics, noMetrics } from "../metrics.ts";
import { type ObjectChange, parseS3Message } from "../s3-event.ts";
import { encodeVector, type WriteEventWire, type WriteReply } from "./write-payload.ts";

/**
 * One SQS batch of S3 notifications → embeddings → one write call. Every message gets its own
 * outcome: a poison image fails only its own message, which SQS redelivers and finally moves to
 * the DLQ; the rest of the batch is stored.
 */
export interface QueueMessage {
  messageId: string;
  body: string;
  /** SQS's ApproximateReceiveCount: 1 on the first delivery. */
  receiveCount?: number;
}

export interface FetchedImage {
  bytes: Uint8Array;
  contentType: string;
  /** What the decode learnt of the photo, stored with its embedding. */
  facts?: PhotoFacts;
}

export interface IngestPorts {
  /** The object's bytes at exactly this etag, or "gone" when it was deleted or replaced since. */
  fetchImage(change: ObjectChange): Promise<FetchedImage | "gone">;
  embed(image: FetchedImage): Promise<{ model: string; vector: Float32Array }>;
  write(events: WriteEventWire[]): Promise<WriteReply[]>;
  /** The model deletes are recorded for (the configured model). */
  model: string;
  logger: Logger;
  /** PhotosFailed by code and EmbeddingLatency are recorded here; the caller flushes. */
  metrics?: Metrics;
  /** Images fetched and embedded at once (default 4). */
  concurrency?: number;
  /** The queue's maxReceiveCount: a message failing on that delivery goes to the dead-letter queue next. */
  maxReceiveCount?: number;
  clock?: () => Date;
}

export interface IngestResult {
  failedMessageIds: string[];
  stored: number;
  skipped: number;
}

/** An object that will never embed (not an image, too large, invalid key): retrying cannot help. */
export class PermanentRecordError extends CoreError {
  constructor(code: string, message: string, cause?: unknown) {
    super(code, message, { cause, retryable: false });
  }
}

interface Item {
  id: string;
  messageId: string;
  change: ObjectChange;
}

export async function ingestBatch(messages: QueueMessage[], ports: IngestPorts): Promise<IngestResult> {
  const failed = new Set<string>();
  const receives = new Map(messages.map((m) => [m.messageId, m.receiveCount ?? 1]));
  const finalFailures: WriteEventWire[] = [];
  const metrics = ports.metrics ?? noMetrics;
  const fail = (messageId: string, fields: Record<string, unknown>, error: unknown, change?: ObjectChange) => {
    failed.add(messageId);
    const e = error as { code?: string; message?: string; retryable?: boolean };
    // Every failed delivery counts, retryable or not: a photo that fails three times counts three.
    metrics.count("PhotosFailed", 1, { code: e.code ?? "internal" });
    const level = e.retryable ? "warn" : "error";
    ports.logger[level]("record failed", { ...fields, messageId, code: e.code ?? "internal", reason: e.message, retryable: Boolean(e.retryable) });
    // Final: retrying cannot help, or this was the last delivery before the dead-letter queue.
    const last = ports.maxReceiveCount !== undefined && (receives.get(messageId) ?? 1) >= ports.maxReceiveCount;
    if ((e.retryable === false || last) && change) {
      const owner = ownerOf(change.key);
      if (!owner) return; // no valid user to tell: the log line above is all there is
      const base = { id: `${messageId}#failure#${finalFailures.length}`, userId: owner.userId, key: change.key, sequencer: change.sequencer };
      // A delete that cannot be done (its key was never a photo) settles that key's record instead.
      if (change.kind === "delete") finalFailures.push({ ...base, kind: "forget" });
      else
        finalFailures.push({
          ...base,
          kind: "failure",
          imageId: owner.imageId,
          code: e.code ?? "internal",
          message: e.message ?? "failed",
          at: (ports.clock?.() ?? new Date()).toISOString(),
        });
    }
  };

  const items: Item[] = [];
  for (const message of messages) {
    try {
      const parsed = parseS3Message(message.body);
      if (parsed.kind === "test") {
        ports.logger.info("s3 test event acknowledged", { messageId: message.messageId });
        continue;
      }
      for (const [i, change] of parsed.changes.entries()) items.push({ id: `${message.messageId}#${i}`, messageId: message.messageId, change });
    } catch (error) {
      fail(message.messageId, {}, error);
    }
  }

  let skipped = 0;
  const events: WriteEventWire[] = [];
  const messageOf = new Map<string, Item>();
  await forEachLimited(items, ports.concurrency ?? 4, async (item) => {
    const { change } = item;
    const fields = { messageId: item.messageId, key: change.key, event: change.eventName };
    if (change.key.endsWith("/")) {
      // A folder marker (the S3 console's "Create folder"): no photo, nothing to refuse.
      skipped++;
      ports.logger.info("folder marker, not a photo; acknowledged", fields);
      return;
    }
    try {
      const { userId, imageId } = parseObjectKey(change.key);
      const base = { id: item.id, userId, key: change.key, imageId, sequencer: change.sequencer };
      if (change.kind === "delete") {
        events.push({ ...base, kind: "delete", model: ports.model });
      } else {
        const image = await ports.fetchImage(change);
        if (image === "gone") {
          skipped++;
          ports.logger.info("object gone or replaced since the event; a later event carries it", fields);
          return;
        }
        const started = performance.now();
        const { model, vector } = await ports.embed(image);
        metrics.time("EmbeddingLatency", performance.now() - started);
        events.push({ ...base, kind: "put", etag: change.etag!, model, vector: encodeVector(vector), ...(image.facts ? { facts: image.facts } : {}) });
      }
      messageOf.set(item.id, item);
    } catch (error) {
      fail(item.messageId, fields, error, change);
    }
  });

  let stored = 0;
  const live = events.filter((e) => !failed.has(messageOf.get(e.id)!.messageId));
  if (live.length > 0) {
    try {
      const replies = await ports.write(live);
      const answered = new Set(replies.map((r) => r.id));
      for (const e of live) {
        if (!answered.has(e.id))
          fail(
            messageOf.get(e.id)!.messageId,
            { key: e.key },
            new CoreError("no_reply", "the writer returned no result for this record", { retryable: true }),
            messageOf.get(e.id)!.change,
          );
      }
      for (const reply of replies) {
        const item = messageOf.get(reply.id);
        if (!item) continue;
        const fields = { messageId: item.messageId, key: item.change.key };
        if (reply.ok) {
          stored++;
          ports.logger.info("record written", { ...fields, outcome: reply.outcome });
        } else fail(item.messageId, fields, reply, item.change);
      }
    } catch (error) {
      for (const e of live) fail(messageOf.get(e.id)!.messageId, { key: e.key }, error, messageOf.get(e.id)!.change);
    }
  }
  if (finalFailures.length > 0) {
    // Best effort: the messages fail back to the queue either way; a lost record only hides the reason.
    try {
      for (const reply of await ports.write(finalFailures))
        if (!reply.ok) ports.logger.warn("failure record not written", { id: reply.id, code: reply.code, reason: reply.message });
    } catch (error) {
      ports.logger.warn("failure records not sent", { error: (error as Error).message });
    }
  }
  return { failedMessageIds: [...failed], stored, skipped };
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(workers);
}

/** The user and image id a key names as far as it can, for a key parseObjectKey refuses too. */
function ownerOf(key: string): { userId: string; imageId: string } | null {
  const match = /^users\/([^/]+)\/(.+)$/.exec(key);
  if (!match || !isValidId(match[1])) return null;
  const path = match[2];
  const dot = path.lastIndexOf(".");
  return { userId: match[1], imageId: dot > path.lastIndexOf("/") + 1 ? path.slice(0, dot) : path };
}
