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
import { CorruptStoreError, ModelMismatchError } from "../errors.ts";
import type { ModelDescriptor } from "../models.ts";
import { EdgeList } from "./edge-list.ts";
import { decodeGraphHeader, decodeLogHeader, decodeRefsHeader, encodeGraphHeader, encodeLogHeader, encodeRefsHeader, newFileId, type LogHeader } from "./file-header.ts";
import { atomicWrite, readFrom, writeAt } from "./fs-util.ts";
import { encodeGraphFrame, readGraphFrames, recordsCrc } from "./graph-file.ts";
import { LiveSet } from "./live-set.ts";
import { parseRecords } from "./log-file.ts";
import { addEdgesFrom } from "./neighbour-graph.ts";
import { copyVector } from "./record-codec.ts";
import { encodeRefsFrame, ENTRY, entryLength, readRefsFrame, type RefEntry } from "./refs-file.ts";
import type { UserPaths } from "./store-paths.ts";
import type { StoreLogger } from "./types.ts";

export interface UserState {
  fileId: string;
  live: LiveSet;
  logIno: number;
  logSize: number;
  graphIno: number;
  graphSize: number;
  /** Log records the graph's frames cover: [0, graphCovered). */
  graphCovered: number;
  refsIno: number;
  refsSize: number;
  refsCovered: number;
}

export interface OpenFiles {
  log: FileHandle;
  graph: FileHandle;
  refs: FileHandle;
  state: UserState;
}

export interface FilesContext {
  paths: UserPaths;
  model: ModelDescriptor;
  logger: StoreLogger;
}

export function assertModel(header: LogHeader, model: ModelDescriptor, file: string): void {
  if (header.modelId !== model.id || header.dimension !== model.dimension) {
    throw new ModelMismatchError(
      `${file} holds model "${header.modelId}" (${header.dimension}-d) but this store writes model "${model.id}" (${model.dimension}-d)`,
    );
  }
}

/** Opens and catches up the user's files. `cached` is consumed: the caller keeps only what this returns. */
export async function openUserFiles(ctx: FilesContext, cached: UserState | undefined): Promise<OpenFiles> {
  const { paths, model } = ctx;
  let found = await openIfExists(paths.log);
  let header = found ? await readHeader(found, paths.log).catch(async (err) => { await found?.close(); throw err; }) : null;
  if (!header) {
    // Missing, or shorter than its header (never completed): nothing in it can be a record.
    await found?.close();
    await createFiles(ctx, newFileId());
    found = (await openIfExists(paths.log))!;
    header = await readHeader(found, paths.log);
  }
  const log = found!;
  const handles: FileHandle[] = [log];
  try {
    if (!header) throw new CorruptStoreError(`${paths.log}: header missing right after creating it`);
    assertModel(header, model, paths.log);
    const floor = model.defaults.graphFloor;
    const derived = await Promise.allSettled([
      openDerived(ctx, paths.graph, (buf) => {
        const h = decodeGraphHeader(buf);
        return h.status === "ok" && h.header.logFileId === header.fileId && h.header.floor === Math.fround(floor) ? h.header.length : null;
      }, () => encodeGraphHeader(floor, header.fileId)),
      openDerived(ctx, paths.refs, (buf) => {
        const h = decodeRefsHeader(buf);
        return h.status === "ok" && h.header.fileId === header.fileId && h.header.modelId === model.id && h.header.dimension === model.dimension ? h.header.length : null;
      }, () => encodeRefsHeader(model.id, model.dimension, header.fileId)),
    ]);
    for (const d of derived) if (d.status === "fulfilled") handles.push(d.value.fh);
    for (const d of derived) if (d.status === "rejected") throw d.reason;
    const [graph, refs] = derived.map((d) => (d as PromiseFulfilledResult<Awaited<ReturnType<typeof openDerived>>>).value);
    const [logStat, graphStat, refsStat] = await Promise.all([log.stat(), graph.fh.stat(), refs.fh.stat()]);
    const remembered =
      cached !== undefined && !graph.created && !refs.created &&
      cached.fileId === header.fileId && cached.logIno === logStat.ino && cached.graphIno === graphStat.ino && cached.refsIno === refsStat.ino &&
      logStat.size >= cached.logSize && graphStat.size >= cached.graphSize && refsStat.size >= cached.refsSize;
    const state: UserState = remembered ? cached : {
      fileId: header.fileId,
      live: new LiveSet(model.dimension),
      logIno: logStat.ino,
      logSize: header.length,
      graphIno: graphStat.ino,
      graphSize: graph.headerLength,
      graphCovered: 0,
      refsIno: refsStat.ino,
      refsSize: refs.headerLength,
      refsCovered: 0,
    };
    const files = { log, graph: graph.fh, refs: refs.fh, state };
    await catchUp(ctx, files, { log: logStat.size, graph: graphStat.size, refs: refsStat.size });
    return files;
  } catch (err) {
    for (const fh of handles) await fh.close().catch(() => {});
    throw err;
  }
}

/**
 * Reads what each file holds past the state's offsets: new log records into the LiveSet (a torn tail
 * cut), graph and refs frames checked against those records (frames the log does not hold cut), then
 * graph edges and refs entries for records the two files do not cover yet (a crash between appends,
 * or files written before the refs file existed).
 */
async function catchUp(ctx: FilesContext, files: OpenFiles, sizes: { log: number; graph: number; refs: number }): Promise<void> {
  const { paths, logger, model } = ctx;
  const { state } = files;
  const { live } = state;
  const from = live.recordCount;

  const logTail = await readFrom(files.log, state.logSize, sizes.log);
  const parsed = parseRecords(logTail, 0, model.dimension);
  if (parsed.tailBytes > 0) {
    logger.warn("store: cutting torn tail of log", { file: paths.log, bytes: parsed.tailBytes, keptBytes: state.logSize + parsed.validEnd });
    await files.log.truncate(state.logSize + parsed.validEnd);
    await files.log.sync();
  }
  const supersedes = new Int32Array(parsed.records.length);
  parsed.records.forEach((r, i) => {
    supersedes[i] = live.keys.get(r.key)?.ordinal ?? -1;
    const slot = live.apply(r, parsed.crcs[i]);
    if (slot >= 0) copyVector(logTail, r, live.matrix, slot);
  });
  state.logSize += parsed.validEnd;
  const crcs = live.crcs.subarray(0, live.recordCount);

  const graphTail = await readFrom(files.graph, state.graphSize, sizes.graph);
  const graph = readGraphFrames(graphTail, 0, state.graphCovered, crcs, () => {});
  await cutAfter(ctx, files.graph, paths.graph, state.graphSize + graph.usedEnd, graphTail.length - graph.usedEnd);
  state.graphSize += graph.usedEnd;
  state.graphCovered = graph.covered;

  const refsTail = await readFrom(files.refs, state.refsSize, sizes.refs);
  let used = 0;
  for (;;) {
    const frame = readRefsFrame(refsTail, used);
    if (frame.status !== "ok" || frame.from !== state.refsCovered || frame.from + frame.count > crcs.length) break;
    let matches = true;
    for (let i = 0, p = frame.at; i < frame.count && matches; i++, p += entryLength(refsTail, p)) matches = refsTail.readUInt32LE(p + ENTRY.crc) === crcs[frame.from + i];
    if (!matches) break;
    state.refsCovered += frame.count;
    used = frame.next;
  }
  await cutAfter(ctx, files.refs, paths.refs, state.refsSize + used, refsTail.length - used);
  state.refsSize += used;

  const to = live.recordCount;
  if (state.graphCovered < to) {
    const edges = new EdgeList();
    await addEdgesFrom(live, state.graphCovered, model.defaults.graphFloor, edges);
    const frame = encodeGraphFrame(state.graphCovered, to, recordsCrc(crcs, state.graphCovered, to), edges);
    await writeAt(files.graph, frame, state.graphSize);
    logger.debug("store: graph caught up", { file: paths.graph, from: state.graphCovered, to, edges: edges.length });
    state.graphSize += frame.length;
    state.graphCovered = to;
  }
  if (state.refsCovered < to) {
    // Refs are checked up to what this writer saw before, so the missing entries are all in this tail.
    if (state.refsCovered < from) throw new CorruptStoreError(`${paths.refs} covers fewer records than when last read`);
    const entries: RefEntry[] = [];
    for (let o = state.refsCovered; o < to; o++) {
      const r = parsed.records[o - from];
      entries.push({ kind: r.kind, key: r.key, imageId: r.imageId, etag: r.etag, supersedes: supersedes[o - from], crc: crcs[o] });
    }
    const frame = encodeRefsFrame(state.refsCovered, entries);
    await writeAt(files.refs, frame, state.refsSize);
    logger.debug("store: refs caught up", { file: paths.refs, from: state.refsCovered, to });
    state.refsSize += frame.length;
    state.refsCovered = to;
  }
}

async function cutAfter(ctx: FilesContext, fh: FileHandle, file: string, keep: number, bytes: number): Promise<void> {
  if (bytes === 0) return;
  ctx.logger.warn("store: cutting frames the log does not hold", { file, bytes, keptBytes: keep });
  await fh.truncate(keep);
}

async function readHeader(fh: FileHandle, file: string): Promise<LogHeader | null> {
  const head = Buffer.alloc(4096);
  const { bytesRead } = await fh.read(head, 0, head.length, 0);
  const decoded = decodeLogHeader(head.subarray(0, bytesRead));
  if (decoded.status === "corrupt") throw new CorruptStoreError(`${file}: unreadable header (${decoded.reason})`);
  return decoded.status === "ok" ? decoded.header : null;
}

/**
 * A derived file (graph or refs) whose header `check` accepts (yielding its length); a missing one,
 * or one made for another log, model or floor, is replaced by a file holding just a new header.
 */
async function openDerived(
  ctx: FilesContext, path: string, check: (head: Buffer) => number | null, header: () => Buffer,
): Promise<{ fh: FileHandle; headerLength: number; created: boolean }> {
  const fh = await openIfExists(path);
  if (fh) {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const headerLength = check(head.subarray(0, bytesRead));
    if (headerLength !== null) return { fh, headerLength, created: false };
    await fh.close();
    ctx.logger.warn("store: file describes another log, model or floor; rebuilding it", { file: path });
  }
  const fresh = header();
  await atomicWrite(path, [fresh]);
  return { fh: (await openIfExists(path))!, headerLength: fresh.length, created: true };
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
