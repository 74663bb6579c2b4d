/**
 * One user's two files as a writer sees them under the lock: open (creating them when missing),
 * check the header against the store's model, bring the in-memory LiveSet up to date (reusing the
 * cached one when nobody else wrote since), cut a torn tail, and let the graph catch up with the log.
 */
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { CorruptStoreError, ModelMismatchError } from "../errors.ts";
import type { ModelDescriptor } from "../models.ts";
import { EdgeList } from "./edge-list.ts";
import { decodeLogHeader, encodeGraphHeader, encodeLogHeader, newFileId, type LogHeader } from "./file-header.ts";
import { atomicWrite, readIfExists, writeAt } from "./fs-util.ts";
import { encodeGraphFrame, parseGraph, recordsCrc } from "./graph-file.ts";
import { LiveSet } from "./live-set.ts";
import { parseLog } from "./log-file.ts";
import { addEdgesFrom } from "./neighbour-graph.ts";
import type { UserPaths } from "./store-paths.ts";
import type { StoreLogger } from "./types.ts";

export interface UserState {
  fileId: string;
  live: LiveSet;
  logIno: number;
  logSize: number;
  graphIno: number;
  graphSize: number;
}

export interface OpenFiles {
  log: FileHandle;
  graph: FileHandle;
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
  let graph: FileHandle | null = null;
  try {
    if (!header) throw new CorruptStoreError(`${paths.log}: header missing right after creating it`);
    assertModel(header, model, paths.log);
    const logStat = await log.stat();
    graph = await openIfExists(paths.graph);
    const graphStat = graph ? await graph.stat() : null;
    const reusable =
      cached !== undefined && graphStat !== null &&
      cached.fileId === header.fileId && cached.logIno === logStat.ino && cached.logSize === logStat.size &&
      cached.graphIno === graphStat.ino && cached.graphSize === graphStat.size;
    if (reusable) return { log, graph: graph!, state: cached };
    await graph?.close();
    graph = null;
    const { state, covered } = await loadState(ctx, log);
    graph = (await openIfExists(paths.graph))!;
    state.graphIno = (await graph.stat()).ino;
    await catchUpGraph(ctx, graph, state, covered);
    return { log, graph, state };
  } catch (err) {
    await log.close().catch(() => {});
    await graph?.close().catch(() => {});
    throw err;
  }
}

async function readHeader(log: FileHandle, file: string): Promise<LogHeader | null> {
  const head = Buffer.alloc(4096);
  const { bytesRead } = await log.read(head, 0, head.length, 0);
  const decoded = decodeLogHeader(head.subarray(0, bytesRead));
  if (decoded.status === "corrupt") throw new CorruptStoreError(`${file}: unreadable header (${decoded.reason})`);
  return decoded.status === "ok" ? decoded.header : null;
}

/** Full read of both files: the LiveSet, a torn log tail cut, the graph's valid prefix kept. */
async function loadState(ctx: FilesContext, log: FileHandle): Promise<{ state: UserState; covered: number }> {
  const { paths, model, logger } = ctx;
  const buf = (await readIfExists(paths.log))!;
  const parsed = parseLog(buf, paths.log);
  if (!parsed) throw new CorruptStoreError(`${paths.log}: header vanished while locked`);
  assertModel(parsed.header, model, paths.log);
  if (parsed.tailBytes > 0) {
    logger.warn("store: cutting torn tail of log", { file: paths.log, bytes: parsed.tailBytes, keptBytes: parsed.validEnd });
    await log.truncate(parsed.validEnd);
    await log.sync();
  }
  const live = LiveSet.fromLog(buf, parsed.records, parsed.crcs, model.dimension);
  const logIno = (await log.stat()).ino;
  const state: UserState = { fileId: parsed.header.fileId, live, logIno, logSize: parsed.validEnd, graphIno: 0, graphSize: 0 };
  const graphBuf = await readIfExists(paths.graph);
  const graph = graphBuf && parseGraph(graphBuf, state.fileId, parsed.crcs, model.defaults.graphFloor);
  if (!graph) {
    if (graphBuf) logger.warn("store: graph describes another log or floor; rebuilding", { file: paths.graph });
    const header = encodeGraphHeader(model.defaults.graphFloor, state.fileId);
    await atomicWrite(paths.graph, [header]);
    state.graphSize = header.length;
    return { state, covered: 0 };
  }
  state.graphSize = graph.usedEnd;
  if (graph.usedEnd < graphBuf!.length) {
    logger.warn("store: cutting graph frames the log does not hold", { file: paths.graph, bytes: graphBuf!.length - graph.usedEnd });
    const fh = await open(paths.graph, "r+");
    await fh.truncate(graph.usedEnd).finally(() => fh.close());
  }
  return { state, covered: graph.covered };
}

/** Appends the edges of records the graph file does not cover yet (after a crash between appends). */
async function catchUpGraph(ctx: FilesContext, graph: FileHandle, state: UserState, from: number): Promise<void> {
  const to = state.live.recordCount;
  if (from === to) return;
  const edges = new EdgeList();
  await addEdgesFrom(state.live, from, ctx.model.defaults.graphFloor, edges);
  const frame = encodeGraphFrame(from, to, recordsCrc(state.live.crcs, from, to), edges);
  await writeAt(graph, frame, state.graphSize);
  state.graphSize += frame.length;
  ctx.logger.debug("store: graph caught up", { file: ctx.paths.graph, from, to, edges: edges.length });
}

async function createFiles(ctx: FilesContext, fileId: string): Promise<void> {
  const { paths, model } = ctx;
  await atomicWrite(paths.graph, [encodeGraphHeader(model.defaults.graphFloor, fileId)]);
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
