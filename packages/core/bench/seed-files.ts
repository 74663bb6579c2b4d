/**
 * For benchmarks: a user's files as the writer leaves them after batches of `batch` puts (the facts
 * file too, when the puts carry facts),
 * written directly with the store's own encoders. The caller gives the graph's edges (by record
 * ordinal), so a library of 50,000 photos needs no 50,000² comparisons to set up.
 */
import { mkdir } from "node:fs/promises";
import type { ModelDescriptor } from "../src/models.ts";
import { EdgeList } from "../src/store/format/edge-list.ts";
import { encodeGraphHeader, encodeLogHeader, encodeRefsHeader, newFileId } from "../src/store/format/file-header.ts";
import { atomicWrite } from "../src/store/fs-util.ts";
import { encodeGraphFrame, recordsCrc } from "../src/store/format/graph-file.ts";
import { encodeFactsFrame, encodeFactsHeader } from "../src/store/format/facts-file.ts";
import { encodeRecord } from "../src/store/format/record-codec.ts";
import { encodeRefsFrame } from "../src/store/format/refs-file.ts";
import { userPaths } from "../src/store/store-paths.ts";
import type { PutEvent } from "../src/store/types.ts";

export async function seedUser(root: string, model: ModelDescriptor, userId: string, puts: readonly PutEvent[], edges: EdgeList, batch = 10): Promise<void> {
  const paths = userPaths(root, userId, model.id);
  await mkdir(paths.dir, { recursive: true });
  const fileId = newFileId();
  const log: Buffer[] = [encodeLogHeader(model.id, model.dimension, fileId)];
  const refs: Buffer[] = [encodeRefsHeader(model.id, model.dimension, fileId)];
  const graph: Buffer[] = [encodeGraphHeader(model.defaults.graphFloor, fileId)];
  const facts: Buffer[] = [encodeFactsHeader()];
  const crcs = new Uint32Array(puts.length);
  // Edges go in the frame of their later record, as the writer's graph frames hold them.
  const order = Array.from({ length: edges.length }, (_, i) => i).sort((x, y) => edges.b[x] - edges.b[y]);
  let e = 0;
  for (let from = 0; from < puts.length; from += batch) {
    const to = Math.min(puts.length, from + batch);
    const entries = [];
    for (let i = from; i < to; i++) {
      const { frame, crc } = encodeRecord(puts[i]);
      log.push(frame);
      crcs[i] = crc;
      entries.push({ kind: "put" as const, key: puts[i].key, imageId: puts[i].imageId, etag: puts[i].etag, supersedes: -1, crc });
    }
    refs.push(encodeRefsFrame(from, entries));
    const described = puts.slice(from, to).flatMap((p, k) => (p.facts ? [{ key: p.key, crc: crcs[from + k], facts: p.facts }] : []));
    if (described.length > 0) facts.push(encodeFactsFrame(described));
    const part = new EdgeList(16);
    for (; e < order.length && edges.b[order[e]] < to; e++) part.push(edges.a[order[e]], edges.b[order[e]], edges.s[order[e]]);
    graph.push(encodeGraphFrame(from, to, recordsCrc(crcs, from, to), part));
  }
  await atomicWrite(paths.graph, graph);
  await atomicWrite(paths.refs, refs);
  await atomicWrite(paths.log, log);
  if (facts.length > 1) await atomicWrite(paths.facts, facts);
}
