/**
 * One user's three files as a writer sees them under the lock: open (creating them when missing),
 * check the headers against the store's model, bring the in-memory LiveSet up to date, cut torn
 * tails, and let the graph and the refs catch up with the log.
 *
 * A writer that remembers the files (same file id and inodes, none shorter than it last saw them)
 * reads only the bytes they grew by since; anything else (a compaction, another file id, a first
 * look) reads them from their headers on. Both are the same walk, from different offsets, so each
 * record's checksum is verified once, when it is first read.
 */
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { CorruptStoreError, ModelMismatchError } from "../../errors.ts";
import type { Metrics } from "../../metrics.ts";
import type { ModelDescriptor } from "../../models.ts";
import { EdgeList } from "../format/edge-list.ts";
import {
  decodeGraphHeader,
  decodeLogHeader,
  decodeRefsHeader,
  encodeGraphHeader,
  encodeLogHeader,
  encodeRefsHeader,
  graphFits,
  newFileId,
  type LogHeader,
} from "../format/file-header.ts";
import { atomicWrite, readRange, writeAt } from "../fs-util.ts";
import { encodeGraphFrame, readGraphFrames, recordsCrc } from "../format/graph-file.ts";
import type { FactsEnd } from "./facts-writer.ts";
import { LiveSet } from "./live-set.ts";
import { scanLog } from "../format/log-stream.ts";
import { addEdgesFrom } from "./neighbour-graph.ts";
import { copyVector } from "../format/record-codec.ts";
import { encodeRefsFrame, ENTRY, entryLength, readRefsFrame, type RefEntry } from "../format/refs-file.ts";
import type { UserPaths } from "../store-paths.ts";
import type { StoreLogger } from "../types.ts";

export interface UserState {
  fileId: string;
  live: LiveSet;
  /** The log header's length: where its records start. */
  logStart: number;
  logIno: number;
  logSize: number;
  graphIno: number;
  /** The derived files' header checksums: a file rewritten at its path has another (see file-header.ts). */
  graphHeaderCrc: number;
  graphSize: number;
  /** Log records the graph's frames cover: [0, graphCovered). */
  graphCovered: number;
  refsIno: number;
  refsHeaderCrc: number;
  refsSize: number;
  refsCovered: number;
  /** Where this writer last left the facts file (see facts-writer.ts). */
  facts?: FactsEnd;
}

export interface OpenFiles {
  log: FileHandle;
  graph: FileHandle;
  refs: FileHandle;
  state: UserState;
  /** Whether the refs file was written anew (it was missing, as in format 1, or named another log). */
  refsCreated: boolean;
}

export interface FilesContext {
  paths: UserPaths;
  model: ModelDescriptor;
  logger: StoreLogger;
  /** GraphCatchUps, Compactions and StreamedWrites are counted here. */
  metrics: Metrics;
  /** Bytes a user's LiveSet may take; a larger user is scored against its log streamed from disk. */
  memoryBudget: number;
  /** Frees the cache (other users' LiveSets) until `bytes` more fit the budget, before a LiveSet is built. */
  makeRoom?: (bytes: number) => void;
}

export function assertModel(header: LogHeader, model: ModelDescriptor, file: string): void {
  if (header.modelId !== model.id || header.dimension !== model.dimension) {
    throw new ModelMismatchError(
      `${file} holds model "${header.modelId}" (${header.dimension}-d) but this store writes model "${model.id}" (${model.dimension}-d)`,
    );
  }
}

/** A graph or refs file: open when it fits the log, or a header to publish with its contents. */
interface Derived {
  path: string;
  fh: FileHandle | null;
  header: Buffer;
  size: number;
  ino: number;
}

/** Opens and catches up the user's files. `cached` is consumed: the caller keeps only what this returns. */
export async function openUserFiles(ctx: FilesContext, cached: UserState | undefined): Promise<OpenFiles> {
  const { paths, model } = ctx;
  let found = await openIfExists(paths.log);
  let header = found
    ? await readHeader(found, paths.log).catch(async (err) => {
        await found?.close();
        throw err;
      })
    : null;
  if (!header) {
    // Missing, or shorter than its header (never completed): nothing in it can be a record.
    await found?.close();
    await createFiles(ctx, newFileId());
    found = (await openIfExists(paths.log))!;
    header = await readHeader(found, paths.log);
  }
  const log = found!;
  const derived: Derived[] = [];
  try {
    if (!header) throw new CorruptStoreError(`${paths.log}: header missing right after creating it`);
    assertModel(header, model, paths.log);
    const floor = model.defaults.graphFloor;
    const { fileId } = header;
    // The two derived files and the log's size at once: each is a round trip to the filesystem.
    const opened = await Promise.allSettled([
      openDerived(
        ctx,
        paths.graph,
        (head) => {
          const h = decodeGraphHeader(head);
          return h.status === "ok" && graphFits(h.header, fileId, floor) ? h.header.length : null;
        },
        () => encodeGraphHeader(floor, fileId),
      ),
      openDerived(
        ctx,
        paths.refs,
        (head) => {
          const h = decodeRefsHeader(head);
          return h.status === "ok" && h.header.fileId === fileId && h.header.modelId === model.id && h.header.dimension === model.dimension
            ? h.header.length
            : null;
        },
        () => encodeRefsHeader(model.id, model.dimension, fileId),
      ),
    ]);
    for (const o of opened) if (o.status === "fulfilled") derived.push(o.value);
    for (const o of opened) if (o.status === "rejected") throw o.reason;
    const [graph, refs] = derived;
    const logStat = await log.stat();
    const remembered =
      cached !== undefined &&
      graph.fh !== null &&
      refs.fh !== null &&
      cached.fileId === fileId &&
      cached.logIno === logStat.ino &&
      cached.graphIno === graph.ino &&
      cached.refsIno === refs.ino &&
      cached.graphHeaderCrc === headerCrc(graph) &&
      cached.refsHeaderCrc === headerCrc(refs) &&
      logStat.size >= cached.logSize &&
      graph.size >= cached.graphSize &&
      refs.size >= cached.refsSize;
    const state: UserState = remembered
      ? cached
      : {
          fileId,
          live: newLiveSet(ctx, logStat.size - header.length),
          logStart: header.length,
          logIno: logStat.ino,
          logSize: header.length,
          graphIno: graph.ino,
          graphHeaderCrc: headerCrc(graph),
          graphSize: graph.header.length,
          graphCovered: 0,
          refsIno: refs.ino,
          refsHeaderCrc: headerCrc(refs),
          refsSize: refs.header.length,
          refsCovered: 0,
        };
    const refsCreated = refs.fh === null;
    const frames = await catchUp(ctx, log, logStat.size, graph, refs, state);
    if (frames.graph) ctx.metrics.count("GraphCatchUps");
    await publish(graph, frames.graph, state.graphSize);
    await publish(refs, frames.refs, state.refsSize);
    Object.assign(state, { graphIno: graph.ino, refsIno: refs.ino });
    state.graphSize += frames.graph?.length ?? 0;
    state.refsSize += frames.refs?.length ?? 0;
    return { log, graph: graph.fh!, refs: refs.fh!, state, refsCreated };
  } catch (err) {
    for (const fh of [log, ...derived.map((d) => d.fh)]) await fh?.close().catch(() => {});
    throw err;
  }
}

/**
 * A LiveSet sized for a log of `recordBytes`: with compact rows when they fit the memory budget
 * (counted as if every record were a live photo), else without, and a warning and a metric.
 */
function newLiveSet(ctx: FilesContext, recordBytes: number): LiveSet {
  const d = ctx.model.dimension;
  const rows = Math.ceil(Math.max(0, recordBytes) / (4 * d + 48));
  const needs = LiveSet.bytesFor(d, rows);
  if (needs <= ctx.memoryBudget) {
    ctx.makeRoom?.(needs);
    return new LiveSet(d, { capacity: rows + 16 });
  }
  ctx.logger.warn("store: user too large for the writer's memory budget; scoring new photos against the log on disk", {
    file: ctx.paths.log,
    records: rows,
    needsBytes: needs,
    budgetBytes: ctx.memoryBudget,
  });
  return new LiveSet(d, { capacity: 64, compact: false });
}

const headerCrc = (d: Derived) => d.header.readUInt32LE(d.header.length - 4);

/**
 * Appends `frame` to an open derived file; a file still to be made is written whole (header and
 * frame) and renamed into place, so no reader ever finds one that holds less than the log it names.
 */
async function publish(d: Derived, frame: Buffer | null, at: number): Promise<void> {
  if (d.fh) {
    if (frame) await writeAt(d.fh, frame, at);
    return;
  }
  await atomicWrite(d.path, frame ? [d.header, frame] : [d.header]);
  d.fh = await open(d.path, "r+");
  d.ino = (await d.fh.stat()).ino;
}

/**
 * Reads what each file holds past the state's offsets: new log records into the LiveSet (a torn tail
 * cut), graph and refs frames checked against those records (frames the log does not hold cut).
 * Returns the graph and refs frames for records the two files do not cover yet (a crash between
 * appends, or files written before the refs file existed), for the caller to publish.
 */
async function catchUp(
  ctx: FilesContext,
  log: FileHandle,
  logBytes: number,
  graph: Derived,
  refs: Derived,
  state: UserState,
): Promise<{ graph: Buffer | null; refs: Buffer | null }> {
  const { paths, logger, model } = ctx;
  const { live } = state;
  const from = live.recordCount;
  const d = model.dimension;

  // The log's new records, read in bounded chunks: each put's vector goes into the LiveSet's compact
  // row and is not kept; what the refs need of each record (its strings) is, in case they lag.
  const fresh: RefEntry[] = [];
  const scratch = new Float32Array(d);
  const read = await scanLog(log, state.logSize, logBytes, d, ({ buf, base, parsed }) => {
    parsed.records.forEach((r, i) => {
      const supersedes = live.keys.get(r.key)?.ordinal ?? -1;
      const slot = live.apply(r, parsed.crcs[i]);
      if (slot >= 0) {
        copyVector(buf, r, scratch, 0);
        live.setRow(slot, scratch, 0, base + r.vectorOffset);
      }
      fresh.push({ kind: r.kind, key: r.key, imageId: r.imageId, etag: r.etag, supersedes, crc: parsed.crcs[i] });
    });
  });
  if (read.tailBytes > 0) {
    logger.warn("store: cutting torn tail of log", { file: paths.log, bytes: read.tailBytes, keptBytes: read.validEnd });
    await log.truncate(read.validEnd);
    await log.sync();
  }
  state.logSize = read.validEnd;
  const crcs = live.crcs.subarray(0, live.recordCount);

  const graphTail = graph.fh ? await readRange(graph.fh, state.graphSize, graph.size) : Buffer.alloc(0);
  const graphRead = readGraphFrames(graphTail, 0, state.graphCovered, crcs, () => {});
  await cutAfter(ctx, graph, state.graphSize + graphRead.usedEnd, graphTail.length - graphRead.usedEnd);
  state.graphSize += graphRead.usedEnd;
  state.graphCovered = graphRead.covered;

  const refsTail = refs.fh ? await readRange(refs.fh, state.refsSize, refs.size) : Buffer.alloc(0);
  let used = 0;
  for (;;) {
    const frame = readRefsFrame(refsTail, used);
    if (frame.status !== "ok" || frame.from !== state.refsCovered || frame.from + frame.count > crcs.length) break;
    let matches = true;
    for (let i = 0, p = frame.at; i < frame.count && matches; i++, p += entryLength(refsTail, p))
      matches = refsTail.readUInt32LE(p + ENTRY.crc) === crcs[frame.from + i];
    if (!matches) break;
    state.refsCovered += frame.count;
    used = frame.next;
  }
  await cutAfter(ctx, refs, state.refsSize + used, refsTail.length - used);
  state.refsSize += used;

  const to = live.recordCount;
  const out = { graph: null as Buffer | null, refs: null as Buffer | null };
  if (state.graphCovered < to) {
    const edges = new EdgeList();
    await addEdgesFrom(live, state.graphCovered, model.defaults.graphFloor, edges, { log, logStart: state.logStart, logEnd: state.logSize });
    out.graph = encodeGraphFrame(state.graphCovered, to, recordsCrc(crcs, state.graphCovered, to), edges);
    logger.debug("store: graph caught up", { file: paths.graph, from: state.graphCovered, to, edges: edges.length });
    state.graphCovered = to;
  }
  if (state.refsCovered < to) {
    // Refs are checked up to what this writer saw before, so the missing entries are all in this tail.
    if (state.refsCovered < from) throw new CorruptStoreError(`${paths.refs} covers fewer records than when last read`);
    out.refs = encodeRefsFrame(state.refsCovered, fresh.slice(state.refsCovered - from));
    logger.debug("store: refs caught up", { file: paths.refs, from: state.refsCovered, to });
    state.refsCovered = to;
  }
  return out;
}

async function cutAfter(ctx: FilesContext, d: Derived, keep: number, bytes: number): Promise<void> {
  if (bytes === 0 || !d.fh) return;
  ctx.logger.warn("store: cutting frames the log does not hold", { file: d.path, bytes, keptBytes: keep });
  await d.fh.truncate(keep);
}

async function readHeader(fh: FileHandle, file: string): Promise<LogHeader | null> {
  const head = Buffer.alloc(4096);
  const { bytesRead } = await fh.read(head, 0, head.length, 0);
  const decoded = decodeLogHeader(head.subarray(0, bytesRead));
  if (decoded.status === "corrupt") throw new CorruptStoreError(`${file}: unreadable header (${decoded.reason})`);
  return decoded.status === "ok" ? decoded.header : null;
}

/**
 * A derived file (graph or refs) whose header `fits` (yielding its length) is opened; a missing one,
 * or one made for another log, model or floor, gets a new header, published by `publish` with the
 * frames it needs.
 */
async function openDerived(ctx: FilesContext, path: string, fits: (head: Buffer) => number | null, header: () => Buffer): Promise<Derived> {
  const fh = await openIfExists(path);
  if (fh) {
    try {
      const head = Buffer.alloc(4096);
      const [{ bytesRead }, { size, ino }] = await Promise.all([fh.read(head, 0, head.length, 0), fh.stat()]);
      const length = fits(head.subarray(0, bytesRead));
      if (length !== null) return { path, fh, header: Buffer.from(head.subarray(0, length)), size, ino };
    } catch (err) {
      await fh.close();
      throw err;
    }
    await fh.close();
    ctx.logger.warn("store: file describes another log, model or floor; rebuilding it", { file: path });
  }
  const fresh = header();
  return { path, fh: null, header: fresh, size: fresh.length, ino: 0 };
}

async function createFiles(ctx: FilesContext, fileId: string): Promise<void> {
  const { paths, model } = ctx;
  await atomicWrite(paths.graph, [encodeGraphHeader(model.defaults.graphFloor, fileId)]);
  await atomicWrite(paths.refs, [encodeRefsHeader(model.id, model.dimension, fileId)]);
  await atomicWrite(paths.log, [encodeLogHeader(model.id, model.dimension, fileId)]);
}

async function openIfExists(path: string): Promise<FileHandle | null> {
  try {
    return await open(path, "r+");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}
