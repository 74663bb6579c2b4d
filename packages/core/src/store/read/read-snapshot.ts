/**
 * The lock-free read: one readFile of the log, then one of the graph. Complete records only (a frame
 * still being appended fails its length or checksum and is left out). The graph is used when its
 * frames cover the records read, or all but a few of them (frames lost in a crash: see
 * buildSnapshot); if it belongs to another log file (a compaction renamed the two files between
 * our reads) the read starts over, a few times at most.
 */
import { readIfExists } from "../fs-util.ts";
import { decodeGraphHeader } from "../format/file-header.ts";
import { parseGraph } from "../format/graph-file.ts";
import { parseLog } from "../format/log-file.ts";
import { FactsIndex } from "./facts-index.ts";
import { buildSnapshot, emptySnapshot } from "./snapshot.ts";
import type { Snapshot } from "../types.ts";
import { assertModel, type FilesContext } from "../write/user-files.ts";

const ATTEMPTS = 3;

export async function readSnapshot(ctx: FilesContext, userId: string): Promise<Snapshot> {
  const { paths, model } = ctx;
  const floor = model.defaults.graphFloor;
  for (let attempt = 1; ; attempt++) {
    const buf = await readIfExists(paths.log);
    const log = buf && parseLog(buf, paths.log);
    if (!buf || !log) return emptySnapshot(userId, model.id, model.dimension, floor);
    assertModel(log.header, model, paths.log);
    const graphBuf = await readIfExists(paths.graph);
    const graph = graphBuf && parseGraph(graphBuf, log.header.fileId, log.crcs, floor);
    if (!graph && graphBuf && attempt < ATTEMPTS) {
      const head = decodeGraphHeader(graphBuf);
      if (head.status === "ok" && head.header.logFileId !== log.header.fileId) continue;
    }
    const facts = new FactsIndex();
    await facts.refresh(paths.facts, ctx.logger.warn.bind(ctx.logger));
    const snapshot = buildSnapshot(userId, buf, log, graph, floor, facts);
    if (graph && graph.covered < log.records.length) {
      const how = snapshot.graph ? "missing edges computed on read" : "snapshot without graph";
      ctx.logger.debug(`store: graph behind log; ${how}`, { file: paths.graph, covered: graph.covered, records: log.records.length });
    }
    return snapshot;
  }
}
