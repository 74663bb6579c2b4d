import { CoreError } from "../errors.ts";
import { decodeVector, type WriteEventWire, type WriteReply } from "./write-payload.ts";
import type { Logger } from "../logger.ts";
import { type Metrics, noMetrics } from "../metrics.ts";
import type { EmbeddingStore, StoreEvent } from "../store/index.ts";

/**
 * Groups the poller's events by user and writes each user's share under one lock. During a model
 * switch, deletes reach the previous model's file too, so it never answers with a deleted photo.
 * Records PhotosStored, PhotosSkipped and StoreWriteLatency, and flushes `metrics` once at its end
 * (with what the store recorded into it: LockWait, GraphCatchUps, Compactions).
 */
export async function writeEvents(
  store: EmbeddingStore,
  events: WriteEventWire[],
  logger: Logger,
  previous?: EmbeddingStore,
  metrics: Metrics = noMetrics,
): Promise<WriteReply[]> {
  try {
    return await writeUsers(store, events, logger, previous, metrics);
  } finally {
    metrics.flush();
  }
}

/** Outcomes that leave a photo as it was: the same photo again, a redelivery, or an event older than the stored one. */
const SKIPPED = new Set(["duplicate", "stale"]);

async function writeUsers(
  store: EmbeddingStore,
  events: WriteEventWire[],
  logger: Logger,
  previous: EmbeddingStore | undefined,
  metrics: Metrics,
): Promise<WriteReply[]> {
  const byUser = new Map<string, WriteEventWire[]>();
  for (const e of events) byUser.set(e.userId, [...(byUser.get(e.userId) ?? []), e]);

  const replies: WriteReply[] = [];
  for (const [userId, all] of byUser) {
    // What became of photos that finally failed (the user's status), and keys that settle such a record.
    const failures = all.filter((e) => e.kind === "failure");
    const forgets = all.filter((e) => e.kind === "forget");
    if (failures.length + forgets.length > 0) {
      const records = failures.map(({ key, sequencer, imageId, code, message, at }) => ({ key, sequencer, imageId, code, message, at }));
      const ok = await Promise.all([
        records.length > 0 && store.recordFailures(userId, records),
        forgets.length > 0 &&
          store.forgetFailures(
            userId,
            forgets.map(({ key, sequencer }) => ({ key, sequencer })),
          ),
      ]).then(
        () => true,
        (error: unknown) => {
          logger.error("failure records not written", { userId, error });
          return false;
        },
      );
      for (const e of [...failures, ...forgets])
        replies.push(
          ok ? { id: e.id, ok: true, outcome: "recorded" } : failure(e.id, new CoreError("internal", "failure record not written", { retryable: true })),
        );
    }
    const userEvents = all.filter((e): e is Extract<WriteEventWire, { kind: "put" | "delete" }> => e.kind === "put" || e.kind === "delete");
    if (userEvents.length === 0) continue;
    try {
      const storeEvents: StoreEvent[] = userEvents.map((e) =>
        e.kind === "put"
          ? {
              kind: "put",
              key: e.key,
              imageId: e.imageId,
              etag: e.etag,
              sequencer: e.sequencer,
              model: e.model,
              vector: decodeVector(e.vector),
              ...(e.facts ? { facts: e.facts } : {}),
            }
          : { kind: "delete", key: e.key, imageId: e.imageId, sequencer: e.sequencer },
      );
      const deletes = storeEvents.filter((e) => e.kind === "delete");
      if (previous && deletes.length > 0) await previous.write(userId, deletes);
      const started = performance.now();
      const { results } = await store.write(userId, storeEvents);
      metrics.time("StoreWriteLatency", performance.now() - started);
      results.forEach((r, i) => {
        const id = userEvents[i].id;
        if (r.outcome === "stored" || r.outcome === "replaced") metrics.count("PhotosStored");
        else if (SKIPPED.has(r.outcome)) metrics.count("PhotosSkipped");
        replies.push(r.outcome === "error" ? failure(id, r.error) : { id, ok: true, outcome: r.outcome });
      });
    } catch (error) {
      logger.error("user batch failed", { userId, error });
      for (const e of userEvents) replies.push(failure(e.id, error));
    }
  }
  return replies;
}

function failure(id: string, error: unknown): WriteReply {
  const e = error instanceof CoreError ? error : new CoreError("internal", "write failed", { retryable: true });
  return { id, ok: false, code: e.code, message: e.message, retryable: e.retryable };
}
