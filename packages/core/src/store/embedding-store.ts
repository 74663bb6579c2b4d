/**
 * The per-user embedding store: `openStore` wires paths, the writer lock, the cached LiveSet of
 * each user and the read paths. One `write(userId, events)` is one lock: the batch's graph frame,
 * then its records in one positional write to the log, an fdatasync, then its refs frame.
 */
import { readdir, mkdir, stat } from "node:fs/promises";
import { CoreError, InvalidParameterError, LockCompromisedError } from "../errors.ts";
import { EdgeList } from "./format/edge-list.ts";
import { writeAt } from "./fs-util.ts";
import { decideDelete, decidePut } from "./write/event-rules.ts";
import { encodeGraphFrame, recordsCrc } from "./format/graph-file.ts";
import { isValidId } from "../keys.ts";
import { noMetrics } from "../metrics.ts";
import { assertId } from "./ids.ts";
import { compactUser, rebuildUserGraph } from "./write/maintenance.ts";
import { addEdgesFrom } from "./write/neighbour-graph.ts";
import { prepareEvent } from "./write/prepare-event.ts";
import { readFailures, updateFailures } from "./write/failures.ts";
import { readView } from "./read/graph-view.ts";
import { nearestInLog, type ScannableView } from "./read/log-nearest.ts";
import { topSimilar } from "../similarity/top-similar.ts";
import { readSnapshot } from "./read/read-snapshot.ts";
import { encodeRefsFrame, type RefEntry } from "./format/refs-file.ts";
import { encodeRecord } from "./format/record-codec.ts";
import type { FactsEntry } from "./format/facts-file.ts";
import { appendFacts } from "./write/facts-writer.ts";
import { compareSequencers, normaliseSequencer } from "./write/sequencer.ts";
import { acquireLock } from "./write/store-lock.ts";
import { userPaths } from "./store-paths.ts";
import type { EmbeddingStore, EventResult, StoreEvent, StoreLogger, StoreOptions, UserView, WriteResult } from "./types.ts";
import { openUserFiles, type FilesContext, type OpenFiles, type UserState } from "./write/user-files.ts";

const DEFAULTS = { lockWaitMs: 10_000, lockStaleMs: 5_000, minDead: 500, ratio: 0.5, memoryBudget: 256 * 1024 * 1024 };

export function openStore(options: StoreOptions): EmbeddingStore {
  const { root, model } = options;
  const logger: StoreLogger = options.logger ?? console;
  const lockWaitMs = options.lockWaitMs ?? DEFAULTS.lockWaitMs;
  const staleMs = Math.max(2_000, options.lockStaleMs ?? DEFAULTS.lockStaleMs);
  const minDead = options.compaction?.minDead ?? DEFAULTS.minDead;
  const ratio = options.compaction?.ratio ?? DEFAULTS.ratio;
  const sync = options.sync ?? true;
  const cache = new Map<string, UserState>();
  const queues = new Map<string, Promise<unknown>>();

  const failureOptions = { logger, lockWaitMs, staleMs };
  const metrics = options.metrics ?? noMetrics;
  // What the cached LiveSets may take together, and one user's at most (see user-files.ts).
  const memoryBudget = options.memoryBudgetBytes ?? DEFAULTS.memoryBudget;
  const context = (userId: string): FilesContext => ({ paths: userPaths(root, userId, model.id), model, logger, metrics, memoryBudget, makeRoom });

  /** Runs `task` holding the user's lock; calls of one process queue up instead of spinning on it. */
  async function locked<T>(userId: string, task: (ctx: FilesContext, files: OpenFiles, lost: () => Error | null) => Promise<T>): Promise<T> {
    const ctx = context(userId);
    const previous = queues.get(userId) ?? Promise.resolve();
    const run = previous
      .catch(() => {})
      .then(async () => {
        await mkdir(ctx.paths.dir, { recursive: true });
        const waitStarted = performance.now();
        const lock = await acquireLock(ctx.paths.log, ctx.paths.lock, { waitMs: lockWaitMs, staleMs, logger });
        metrics.time("LockWait", performance.now() - waitStarted);
        let files: OpenFiles | null = null;
        const cached = cache.get(userId);
        cache.delete(userId); // re-added by a write that reaches its end; openUserFiles checks a remembered view against the files
        try {
          files = await openUserFiles(ctx, cached);
          const result = await task(ctx, files, lock.lost);
          const lost = lock.lost();
          if (lost) throw new LockCompromisedError(`store lock ${ctx.paths.lock} was lost during the batch; retry it`, lost);
          return result;
        } finally {
          if (files) await Promise.all([files.log, files.graph, files.refs].map((fh) => fh.close().catch(() => {})));
          await lock.release();
        }
      });
    queues.set(userId, run);
    try {
      return await run;
    } finally {
      if (queues.get(userId) === run) queues.delete(userId);
    }
  }

  const cachedBytes = () => {
    let bytes = 0;
    for (const s of cache.values()) bytes += s.live.bytes;
    return bytes;
  };
  /** Drops the least recently written users until `bytes` more fit the budget. */
  function makeRoom(bytes: number): void {
    let held = cachedBytes();
    for (const [key, s] of cache) {
      if (held + bytes <= memoryBudget) break;
      cache.delete(key);
      held -= s.live.bytes;
    }
  }

  /**
   * Keeps the user's state for its next write; the least recently written users go first when their
   * LiveSets pass the budget. A user that outgrew the budget alone is not kept: its next write opens
   * it afresh, scored against its log on disk.
   */
  function remember(userId: string, state: UserState): void {
    if (state.live.bytes > memoryBudget) return;
    cache.delete(userId);
    makeRoom(state.live.bytes);
    cache.set(userId, state);
  }

  async function write(userId: string, events: readonly StoreEvent[]): Promise<WriteResult> {
    assertId("user id", userId);
    const prepared = events.map((e) => prepareEvent(e, model));
    if (prepared.every((p) => !p.ok)) {
      // Nothing to write: no lock, no files.
      return {
        userId,
        results: prepared.map((p, i) => ({ key: String(events[i]?.key), outcome: "error" as const, error: (p as { error: CoreError }).error })),
        appended: 0,
        compacted: false,
      };
    }
    const result = await locked(userId, async (ctx, files, lost): Promise<WriteResult> => {
      const { state } = files;
      const live = state.live;
      const from = live.recordCount;
      const frames: Buffer[] = [];
      const refs: RefEntry[] = [];
      // The batch's vectors, by record ordinal, until they are in the log.
      const pending = new Map<number, Float32Array>();
      const facts: FactsEntry[] = [];
      let batchBytes = 0;
      const results: EventResult[] = prepared.map((p, i) => {
        if (!p.ok) return { key: String(events[i]?.key), outcome: "error", error: p.error };
        const event = p.event;
        const current = live.keys.get(event.key);
        const decision = event.kind === "put" ? decidePut(current, event.etag, event.sequencer) : decideDelete(current, event.sequencer);
        if (event.kind === "put" && event.facts && !decision.write && decision.outcome === "duplicate" && current)
          facts.push({ key: event.key, crc: live.crcs[current.ordinal], facts: event.facts }); // the same photo again: its facts, maybe for the first time
        if (decision.write) {
          const { frame, crc } = encodeRecord(event);
          if (event.kind === "put" && event.facts) facts.push({ key: event.key, crc, facts: event.facts });
          frames.push(frame);
          const etag = event.kind === "put" ? event.etag : "";
          refs.push({ kind: event.kind, key: event.key, imageId: event.imageId, etag, supersedes: current?.ordinal ?? -1, crc });
          const slot = live.apply({ ...event, etag: event.kind === "put" ? event.etag : "" }, crc);
          if (event.kind === "put") {
            // The vector ends its frame: where it will lie once the batch is appended.
            live.setRow(slot, event.vector, 0, state.logSize + batchBytes + frame.length - 4 * live.dimension);
            pending.set(live.recordCount - 1, event.vector);
          }
          batchBytes += frame.length;
        }
        return { key: event.key, outcome: decision.outcome };
      });
      let compacted = false;
      if (frames.length > 0) {
        const to = live.recordCount;
        const edges = new EdgeList(64);
        if (!live.rows) metrics.count("StreamedWrites");
        await addEdgesFrom(live, from, model.defaults.graphFloor, edges, { log: files.log, logStart: state.logStart, logEnd: state.logSize, pending });
        const graphFrame = encodeGraphFrame(from, to, recordsCrc(live.crcs, from, to), edges);
        const batch = Buffer.concat(frames);
        // A lease lock can be lost in a long stall without the heartbeat having noticed yet. Files that
        // grew mean another writer holds it now, and writing would clobber its records; files replaced
        // at their paths (its compaction or graph rebuild) mean our handles point at unlinked files,
        // and the batch would be acknowledged and lost.
        const [logAt, graphAt, refsAt] = await Promise.all([ctx.paths.log, ctx.paths.graph, ctx.paths.refs].map((p) => stat(p).catch(() => null)));
        const lostBefore = lost();
        const moved = logAt?.ino !== state.logIno || graphAt?.ino !== state.graphIno || refsAt?.ino !== state.refsIno;
        if (lostBefore || moved || logAt?.size !== state.logSize || graphAt?.size !== state.graphSize || refsAt?.size !== state.refsSize) {
          throw new LockCompromisedError(`store lock ${ctx.paths.lock} was lost before writing; retry the batch`, lostBefore);
        }
        try {
          await writeAt(files.graph, graphFrame, state.graphSize);
          await writeAt(files.log, batch, state.logSize);
        } catch (err) {
          // A full disk or an I/O error mid-append: take back what this batch wrote, so no reader
          // sees part of a batch that failed; the batch is retried whole.
          await files.log.truncate(state.logSize).catch(() => {});
          await files.graph.truncate(state.graphSize).catch(() => {});
          throw err;
        }
        state.graphSize += graphFrame.length;
        state.graphCovered = to;
        if (sync) await files.log.datasync();
        state.logSize += batch.length;
        // After the log is durable, so the refs never name a record the log could lose.
        const refsFrame = encodeRefsFrame(from, refs);
        await writeAt(files.refs, refsFrame, state.refsSize);
        state.refsSize += refsFrame.length;
        state.refsCovered = to;
        if (live.dead >= minDead && live.dead > ratio * live.recordCount) {
          try {
            await compactUser(ctx, userId, state);
            compacted = true;
          } catch (err) {
            logger.warn("store: automatic compaction failed; records are written", { userId, error: (err as Error).message });
          }
        }
      }
      // Facts only after a check that the lock is still ours: a lost lock's writer must not append.
      if (facts.length > 0 && !lost()) {
        try {
          state.facts = await appendFacts(ctx.paths.facts, facts, state.facts);
        } catch (err) {
          state.facts = undefined;
          logger.warn("store: facts not written; the photos are stored without them", { userId, error: (err as Error).message });
        }
      }
      if (!compacted) remember(userId, state);
      return { userId, results, appended: frames.length, compacted };
    });
    // A key stored or deleted now is no longer a failed photo, if it failed at this event or before.
    const settle = result.results.flatMap((r, i) => {
      const p = prepared[i];
      return p.ok && r.outcome !== "error" && r.outcome !== "stale" ? [{ key: r.key, sequencer: p.event.sequencer }] : [];
    });
    if (settle.length > 0) {
      await updateFailures(root, userId, { settle }, failureOptions).catch((err: Error) =>
        logger.warn("store: could not clear failure records; a later write of each key clears its own", { userId, error: err.message }),
      );
    }
    return result;
  }

  return {
    model,
    write,
    read: async (userId) => readSnapshot(context(userId), userId),
    readView: async (userId, previous) => readView(context(userId), userId, previous),
    nearest: async (userId, imageId, limit, previous) => {
      if (!Number.isInteger(limit) || limit < 0) throw new InvalidParameterError(`limit must be a non-negative integer, got ${limit}`);
      const ctx = context(userId);
      // A compaction between reading the view and scanning the log: read the view again.
      for (let attempt = 1; attempt <= 3; attempt++) {
        const view = await readView(ctx, userId, attempt === 1 ? previous : undefined);
        const row = view.rowOf(imageId);
        if (row < 0) return undefined;
        if (view.vectors) {
          const neighbours = topSimilar(view.vectors, view.rows, view.dimension, row, limit).map((n) => ({ row: n.index, cosine: n.similarity }));
          return { view, neighbours };
        }
        // A view without vectors is read from the refs file, which gives each row's checksum.
        const found = await nearestInLog(ctx.paths.log, view as UserView & ScannableView, row, limit);
        if (found !== "stale") return { view, neighbours: found };
      }
      throw new CoreError("files_changed", `the files of user ${userId} were replaced during three reads; try again`, { retryable: true });
    },
    recordFailures: async (userId, failures) => {
      assertId("user id", userId);
      // Under the store's lock, against its latest state of each key: a failure that arrives after a
      // later event of its key was stored (a slow retry, a replaced photo) is already settled.
      const fresh = await locked(userId, async (_ctx, files) => {
        // Read only: the state stays good for the user's next write (opening a large user anew is slow).
        remember(userId, files.state);
        return failures.filter((f) => {
          const current = files.state.live.keys.get(f.key);
          return !current || compareSequencers(current.sequencer, normaliseSequencer(f.sequencer)) < 0;
        });
      });
      if (fresh.length > 0)
        await updateFailures(root, userId, { add: fresh.map((f) => ({ ...f, sequencer: normaliseSequencer(f.sequencer) })) }, failureOptions);
    },
    forgetFailures: (userId, settled) =>
      updateFailures(root, userId, { settle: settled.map((s) => ({ ...s, sequencer: normaliseSequencer(s.sequencer) })) }, failureOptions),
    failures: (userId) => readFailures(root, userId),
    migrate: async (userId) => {
      assertId("user id", userId);
      // A user without this model's log has nothing to upgrade: no files are made for it.
      if (
        !(await stat(context(userId).paths.log).then(
          () => true,
          () => false,
        ))
      )
        return { userId, upgraded: false, records: 0 };
      return locked(userId, async (_ctx, files) => ({ userId, upgraded: files.refsCreated, records: files.state.live.recordCount }));
    },
    compact: async (userId) => {
      assertId("user id", userId);
      return locked(userId, (ctx, files) => compactUser(ctx, userId, files.state));
    },
    rebuildGraph: async (userId) => {
      assertId("user id", userId);
      return locked(userId, async (ctx, files) => ({ userId, edges: await rebuildUserGraph(ctx, files.state, files.log) }));
    },
    listUsers: async () => {
      try {
        const entries = await readdir(root, { withFileTypes: true });
        return entries
          .filter((e) => e.isDirectory() && isValidId(e.name))
          .map((e) => e.name)
          .sort();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw err;
      }
    },
  };
}
