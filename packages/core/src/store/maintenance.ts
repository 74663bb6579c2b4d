/**
 * Rewrites under the lock: compaction (only each key's latest record, the refs and graph remapped)
 * and a graph rebuild from scratch. Both write temp files in the user's directory, fsync, rename
 * over the originals and fsync the directory, so a reader holds either the old file or the new one,
 * each complete. The log is renamed first, then the refs, then the graph; a reader that catches a
 * new file with an old one sees different file ids and reads again. Compaction also upgrades files
 * of an older format: what it writes is always the current one.
 */
import { CorruptStoreError } from "../errors.ts";
import { EdgeList } from "./edge-list.ts";
import { encodeGraphHeader, encodeLogHeader, encodeRefsHeader, newFileId } from "./file-header.ts";
import { atomicWrite, commitFiles, readIfExists, writeTemp } from "./fs-util.ts";
import { encodeGraphFrame, parseGraph, recordsCrc } from "./graph-file.ts";
import { parseLog } from "./log-file.ts";
import { addEdgesFrom } from "./neighbour-graph.ts";
import { encodeRefsFrame, type RefEntry } from "./refs-file.ts";
import type { CompactResult } from "./types.ts";
import type { FilesContext, UserState } from "./user-files.ts";

export async function compactUser(ctx: FilesContext, userId: string, state: UserState): Promise<CompactResult> {
  const { paths, model } = ctx;
  const floor = model.defaults.graphFloor;
  const buf = (await readIfExists(paths.log))!;
  const log = parseLog(buf, paths.log);
  if (!log || log.header.fileId !== state.fileId || log.records.length !== state.live.recordCount) {
    throw new CorruptStoreError(`${paths.log} changed under the lock during compaction`);
  }
  const keep = [...state.live.keys.values()].map((k) => k.ordinal).sort((x, y) => x - y);
  const newOf = new Int32Array(log.records.length).fill(-1);
  const crcs = new Uint32Array(keep.length);
  const fileId = newFileId();
  const chunks: Uint8Array[] = [encodeLogHeader(model.id, model.dimension, fileId)];
  const refs: RefEntry[] = [];
  keep.forEach((ordinal, i) => {
    const start = ordinal === 0 ? log.header.length : log.frameEnds[ordinal - 1];
    chunks.push(buf.subarray(start, log.frameEnds[ordinal]));
    newOf[ordinal] = i;
    crcs[i] = log.crcs[ordinal];
    const r = log.records[ordinal];
    refs.push({ kind: r.kind, key: r.key, imageId: r.imageId, etag: r.etag, supersedes: -1, crc: crcs[i] });
  });
  const graphBuf = await readIfExists(paths.graph);
  const graph = graphBuf && parseGraph(graphBuf, state.fileId, log.crcs, floor);
  let old: EdgeList;
  if (graph && graph.covered === log.records.length) old = graph.edges;
  else {
    old = new EdgeList();
    await addEdgesFrom(state.live, 0, floor, old);
  }
  const edges = new EdgeList(Math.max(16, old.length));
  for (let i = 0; i < old.length; i++) {
    const a = newOf[old.a[i]];
    const b = newOf[old.b[i]];
    if (a >= 0 && b >= 0) edges.push(a, b, old.s[i]);
  }
  const graphChunks = [encodeGraphHeader(floor, fileId), encodeGraphFrame(0, keep.length, recordsCrc(crcs, 0, keep.length), edges)];
  const refsChunks = [encodeRefsHeader(model.id, model.dimension, fileId), encodeRefsFrame(0, refs)];
  const tempLog = await writeTemp(paths.log, chunks);
  const tempRefs = await writeTemp(paths.refs, refsChunks);
  const tempGraph = await writeTemp(paths.graph, graphChunks);
  await commitFiles([
    [tempLog, paths.log],
    [tempRefs, paths.refs],
    [tempGraph, paths.graph],
  ]);
  const bytesAfter = chunks.reduce((n, c) => n + c.length, 0);
  ctx.metrics.count("Compactions");
  ctx.logger.debug("store: compacted", { file: paths.log, recordsBefore: log.records.length, recordsAfter: keep.length });
  return { userId, recordsBefore: log.records.length, recordsAfter: keep.length, bytesBefore: buf.length, bytesAfter };
}

/** A fresh graph file from every live vector: O(n²·d), for repair or a changed floor. */
export async function rebuildUserGraph(ctx: FilesContext, state: UserState): Promise<number> {
  const floor = ctx.model.defaults.graphFloor;
  const edges = new EdgeList();
  await addEdgesFrom(state.live, 0, floor, edges);
  const to = state.live.recordCount;
  await atomicWrite(ctx.paths.graph, [encodeGraphHeader(floor, state.fileId), encodeGraphFrame(0, to, recordsCrc(state.live.crcs, 0, to), edges)]);
  return edges.length;
}
