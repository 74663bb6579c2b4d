/**
 * Turning a parsed log (and the graph frames that cover it) into what the API needs: the live images
 * in log order, their vectors in one n×d matrix, and the graph re-indexed onto those rows.
 */
import { EdgeList } from "./edge-list.ts";
import type { ParsedGraph } from "./graph-file.ts";
import type { ParsedLog } from "./log-file.ts";
import { copyVector } from "./record-codec.ts";
import type { ImageRef, NeighbourGraph, Snapshot } from "./types.ts";

export function emptySnapshot(userId: string, model: string, dimension: number, floor: number): Snapshot {
  return { userId, model, dimension, images: [], vectors: new Float32Array(0), graph: { floor, edges: empty() } };
}

/** `graph` must cover every record of `log` (or be null). */
export function buildSnapshot(userId: string, buf: Buffer, log: ParsedLog, graph: ParsedGraph | null, floor: number): Snapshot {
  const { records, header } = log;
  const latest = new Map<string, number>();
  for (let i = 0; i < records.length; i++) latest.set(records[i].key, i);
  const rowOf = new Int32Array(records.length).fill(-1);
  const images: ImageRef[] = [];
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (r.kind !== "put" || latest.get(r.key) !== i) continue;
    rowOf[i] = images.length;
    images.push({ imageId: r.imageId, key: r.key, etag: r.etag });
  }
  const d = header.dimension;
  const vectors = new Float32Array(images.length * d);
  for (let i = 0; i < records.length; i++) if (rowOf[i] >= 0) copyVector(buf, records[i], vectors, rowOf[i]);
  return {
    userId,
    model: header.modelId,
    dimension: d,
    images,
    vectors,
    graph: graph && graph.covered === records.length ? liveEdges(graph.edges, rowOf, floor) : null,
  };
}

/** Keeps edges whose two records are both live, as snapshot row indexes. */
export function liveEdges(edges: EdgeList, rowOf: Int32Array, floor: number): NeighbourGraph {
  const out = new EdgeList(Math.max(16, edges.length >> 1));
  const { a, b, s } = edges;
  for (let i = 0; i < edges.length; i++) {
    const ra = a[i] < rowOf.length ? rowOf[a[i]] : -1;
    const rb = b[i] < rowOf.length ? rowOf[b[i]] : -1;
    if (ra < 0 || rb < 0) continue;
    if (ra < rb) out.push(ra, rb, s[i]);
    else out.push(rb, ra, s[i]);
  }
  return { floor, edges: out.trimmed() };
}

function empty(): NeighbourGraph["edges"] {
  return { a: new Uint32Array(0), b: new Uint32Array(0), s: new Float32Array(0) };
}
