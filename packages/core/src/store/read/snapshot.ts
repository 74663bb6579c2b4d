/**
 * Turning a parsed log (and the graph frames that cover it) into what the API needs: the live images
 * in log order, their vectors in one n×d matrix, and the graph re-indexed onto those rows.
 */
import { dotF32 } from "../../similarity/dot.ts";
import { EdgeList } from "../format/edge-list.ts";
import type { ParsedGraph } from "../format/graph-file.ts";
import type { ParsedLog } from "../format/log-file.ts";
import { copyVector } from "../format/record-codec.ts";
import { compareIds } from "../../keys.ts";
import type { FactsIndex } from "./facts-index.ts";
import type { ImageRef, NeighbourGraph, Snapshot, UserView } from "../types.ts";

export function emptySnapshot(userId: string, model: string, dimension: number, floor: number): Snapshot {
  return { userId, model, dimension, images: [], vectors: new Float32Array(0), graph: { floor, edges: empty() } };
}

/**
 * A graph that covers fewer records than the log (a crash lost its last frames, which are written
 * first but not fsynced, while the fsynced log kept their records, and nothing has been written for
 * the user since) gets the missing records' edges
 * computed here, as the next write would: a few rows against all, instead of the exact path over
 * every pair. Past n / CATCH_UP_DIVISOR missing records the exact path is cheaper, and the graph is
 * null: on this 2-core machine one row against 50,000 took 70 ms (1.4 µs a pair, d = 1280), and the
 * exact path takes about 1e-8·n² s, so they cost the same at about n / 140 missing rows; the
 * divisor stays a little above that, on the safe side of a rough estimate.
 */
export const CATCH_UP_DIVISOR = 150;

export function buildSnapshot(userId: string, buf: Buffer, log: ParsedLog, graph: ParsedGraph | null, floor: number, facts?: FactsIndex): Snapshot {
  const { records, header } = log;
  const latest = new Map<string, number>();
  for (let i = 0; i < records.length; i++) latest.set(records[i].key, i);
  const rowOf = new Int32Array(records.length).fill(-1);
  const images: ImageRef[] = [];
  const crcs: number[] = [];
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (r.kind !== "put" || latest.get(r.key) !== i) continue;
    rowOf[i] = images.length;
    images.push({ imageId: r.imageId, key: r.key, etag: r.etag });
    crcs.push(log.crcs[i]);
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
    graph:
      graph && (records.length - graph.covered) * CATCH_UP_DIVISOR <= images.length
        ? liveEdges(graph.edges, rowOf, floor, { from: graph.covered, vectors, d })
        : null,
    ...(facts ? { facts: (row: number) => facts.get(images[row].key, crcs[row]) } : {}),
  };
}

/**
 * Keeps edges whose two records are both live, as snapshot row indexes; with `late`, adds the edges
 * of live records from `late.from` on to every earlier live record, scored as the writer scores them.
 */
export function liveEdges(edges: EdgeList, rowOf: Int32Array, floor: number, late?: { from: number; vectors: Float32Array; d: number }): NeighbourGraph {
  const out = new EdgeList(Math.max(16, edges.length >> 1));
  const { a, b, s } = edges;
  for (let i = 0; i < edges.length; i++) {
    const ra = a[i] < rowOf.length ? rowOf[a[i]] : -1;
    const rb = b[i] < rowOf.length ? rowOf[b[i]] : -1;
    if (ra < 0 || rb < 0) continue;
    if (ra < rb) out.push(ra, rb, s[i]);
    else out.push(rb, ra, s[i]);
  }
  if (late) {
    const { vectors, d } = late;
    for (let i = late.from; i < rowOf.length; i++) {
      const ri = rowOf[i];
      if (ri < 0) continue;
      for (let j = 0; j < i; j++) {
        const rj = rowOf[j];
        if (rj < 0) continue;
        const score = dotF32(vectors, ri * d, vectors, rj * d, d);
        if (score >= floor) out.push(Math.min(ri, rj), Math.max(ri, rj), score);
      }
    }
  }
  return { floor, edges: out.trimmed() };
}

function empty(): NeighbourGraph["edges"] {
  return { a: new Uint32Array(0), b: new Uint32Array(0), s: new Float32Array(0) };
}

/** A full read as a view: every row live, vectors included. */
export function viewOfSnapshot(snapshot: Snapshot): UserView {
  const { images } = snapshot;
  let byId: Map<string, number> | undefined;
  return {
    userId: snapshot.userId,
    model: snapshot.model,
    dimension: snapshot.dimension,
    rows: images.length,
    imageCount: images.length,
    live: () => true,
    imageId: (row) => images[row].imageId,
    key: (row) => images[row].key,
    compareIds: (x, y) => compareIds(images[x].imageId, images[y].imageId),
    rowOf: (imageId) => {
      byId ??= new Map(images.map((img, i) => [img.imageId, i]));
      return byId.get(imageId) ?? -1;
    },
    graph: snapshot.graph,
    vectors: snapshot.vectors,
    facts: (row) => snapshot.facts?.(row) ?? null,
    bytes: snapshot.vectors.byteLength + (snapshot.graph ? snapshot.graph.edges.a.length * 12 : 0) + images.length * 200,
  };
}
