/**
 * Rewrites under the lock: compaction (only each key's latest record, the refs and graph remapped)
 * and a graph rebuild from scratch. Both write temp files in the user's directory, fsync, rename
 * over the originals and fsync the directory, so a reader holds either the old file or the new one,
 * each complete. The log is renamed first, then the refs, then the graph; a reader that catches a
 * new file with an old one sees different file ids and reads again. Compaction also upgrades files
 * of an older format: what it writes is always the current one.
 */
import { type FileHandle, open, unlink } from "node:fs/promises";
import { CorruptStoreError } from "../../errors.ts";
import { EdgeList } from "../format/edge-list.ts";
import { decodeLogHeader, encodeGraphHeader, encodeLogHeader, encodeRefsHeader, newFileId } from "../format/file-header.ts";
import { atomicWrite, commitFiles, readIfExists, readRange, writeTemp, writeTempWith } from "../fs-util.ts";
import { encodeGraphFrame, parseGraph, recordsCrc } from "../format/graph-file.ts";
import { scanLog } from "../format/log-stream.ts";
import { compactFacts } from "./facts-writer.ts";
import { addEdgesFrom } from "./neighbour-graph.ts";
import { encodeRefsFrame, type RefEntry } from "../format/refs-file.ts";
import type { CompactResult } from "../types.ts";
import type { FilesContext, UserState } from "./user-files.ts";

export async function compactUser(ctx: FilesContext, userId: string, state: UserState): Promise<CompactResult> {
  const { paths, model } = ctx;
  const { live } = state;
  const recordCount = live.recordCount;
  const keep = new Uint8Array(recordCount);
  for (const k of live.keys.values()) keep[k.ordinal] = 1;
  const newOf = new Int32Array(recordCount).fill(-1);
  const crcs = new Uint32Array(live.keys.size);
  const fileId = newFileId();
  const refs: RefEntry[] = [];
  const log = await open(paths.log, "r");
  let bytesBefore = 0;
  let bytesAfter = 0;
  let tempLog: string;
  try {
    const header = decodeLogHeader((await readRange(log, 0, state.logStart)) as Buffer);
    bytesBefore = (await log.stat()).size;
    if (header.status !== "ok" || header.header.fileId !== state.fileId) throw new CorruptStoreError(`${paths.log} changed under the lock during compaction`);
    // The kept records' frames, copied a chunk of the log at a time: memory stays one chunk.
    let ordinal = 0;
    let kept = 0;
    tempLog = await writeTempWith(paths.log, async (append) => {
      const head = encodeLogHeader(model.id, model.dimension, fileId);
      await append(head);
      bytesAfter += head.length;
      const read = await scanLog(log, state.logStart, state.logSize, model.dimension, async ({ buf, parsed }) => {
        // Runs of kept frames, each appended in one write.
        let start = 0;
        let run = -1;
        for (let i = 0; i < parsed.records.length; i++) {
          const r = parsed.records[i]!;
          const o = ordinal++;
          const end = parsed.frameEnds[i]!;
          if (o < recordCount && keep[o]) {
            if (run < 0) run = start;
            newOf[o] = kept;
            crcs[kept++] = parsed.crcs[i]!;
            refs.push({ kind: r.kind, key: r.key, imageId: r.imageId, etag: r.etag, supersedes: -1, crc: parsed.crcs[i]! });
          } else if (run >= 0) {
            await append(buf.subarray(run, start));
            bytesAfter += start - run;
            run = -1;
          }
          start = end;
        }
        if (run >= 0) {
          await append(buf.subarray(run, start));
          bytesAfter += start - run;
        }
      });
      // Inside the write, so the temp file goes with the error.
      if (read.validEnd !== state.logSize || ordinal !== recordCount || kept !== crcs.length)
        throw new CorruptStoreError(`${paths.log} changed under the lock during compaction`);
    });
  } finally {
    await log.close();
  }
  try {
    await rewriteDerived(ctx, state, { fileId, tempLog, newOf, crcs, refs });
  } catch (err) {
    await unlink(tempLog).catch(() => {});
    throw err;
  }
  // The facts of the records kept (format/facts-file.ts); a crash before this leaves extra entries, which no live record matches.
  await compactFacts(paths.facts, new Map(refs.filter((r) => r.kind === "put").map((r) => [r.key, r.crc]))).catch((err: Error) =>
    ctx.logger.warn("store: facts file not compacted; the log is", { file: paths.facts, error: err.message }),
  );
  ctx.metrics.count("Compactions");
  ctx.logger.debug("store: compacted", { file: paths.log, recordsBefore: recordCount, recordsAfter: crcs.length });
  return { userId, recordsBefore: recordCount, recordsAfter: crcs.length, bytesBefore, bytesAfter };
}

/** The compacted log's refs and graph (the old graph's edges renumbered), then all three files committed. */
async function rewriteDerived(
  ctx: FilesContext,
  state: UserState,
  done: { fileId: string; tempLog: string; newOf: Int32Array; crcs: Uint32Array; refs: RefEntry[] },
): Promise<void> {
  const { paths, model } = ctx;
  const floor = model.defaults.graphFloor;
  const { live } = state;
  const recordCount = live.recordCount;
  const { fileId, tempLog, newOf, crcs, refs } = done;
  const graphBuf = await readIfExists(paths.graph);
  const graph = graphBuf && parseGraph(graphBuf, state.fileId, live.crcs.subarray(0, recordCount), floor);
  let old: EdgeList;
  if (graph && graph.covered === recordCount) old = graph.edges;
  else {
    old = new EdgeList();
    const fh = await open(paths.log, "r");
    try {
      await addEdgesFrom(live, 0, floor, old, { log: fh, logStart: state.logStart, logEnd: state.logSize });
    } finally {
      await fh.close();
    }
  }
  const edges = new EdgeList(Math.max(16, old.length));
  for (let i = 0; i < old.length; i++) {
    const a = newOf[old.a[i]];
    const b = newOf[old.b[i]];
    if (a >= 0 && b >= 0) edges.push(a, b, old.s[i]);
  }
  const graphChunks = [encodeGraphHeader(floor, fileId), encodeGraphFrame(0, crcs.length, recordsCrc(crcs, 0, crcs.length), edges)];
  const refsChunks = [encodeRefsHeader(model.id, model.dimension, fileId), encodeRefsFrame(0, refs)];
  const tempRefs = await writeTemp(paths.refs, refsChunks);
  try {
    const tempGraph = await writeTemp(paths.graph, graphChunks);
    await commitFiles([
      [tempLog, paths.log],
      [tempRefs, paths.refs],
      [tempGraph, paths.graph],
    ]);
  } catch (err) {
    await unlink(tempRefs).catch(() => {});
    throw err;
  }
}

/** A fresh graph file from every live vector: O(n²·d), for repair or a changed floor. */
export async function rebuildUserGraph(ctx: FilesContext, state: UserState, log: FileHandle): Promise<number> {
  const floor = ctx.model.defaults.graphFloor;
  const edges = new EdgeList();
  await addEdgesFrom(state.live, 0, floor, edges, { log, logStart: state.logStart, logEnd: state.logSize });
  const to = state.live.recordCount;
  await atomicWrite(ctx.paths.graph, [encodeGraphHeader(floor, state.fileId), encodeGraphFrame(0, to, recordsCrc(state.live.crcs, 0, to), edges)]);
  return edges.length;
}
