/**
 * The one seam between the API and the similarity module: a user's snapshot plus the query
 * parameters in, the response body out. Everything below `TEMPORARY` stands in for
 * `@photo-clusters/core` similarity exports (`edgesAbove`, `clusterEdges`, `topSimilar`)
 * until they exist; the shapes here follow theirs so the swap touches only this file.
 */
import { createHash } from "node:crypto";
import type { ModelDescriptor } from "@photo-clusters/core/models";
import { dotAgainstAll } from "@photo-clusters/core/similarity/dot";

/** Structurally the store's snapshot: n images, their n×d normalised vectors, the optional graph. */
export interface UserSnapshot {
  userId: string;
  model: string;
  dimension: number;
  images: ReadonlyArray<{ imageId: string; key: string; etag?: string }>;
  vectors: Float32Array;
  graph: { floor: number; edges: Edges } | null;
}

export interface Edges {
  a: Uint32Array;
  b: Uint32Array;
  s: Float32Array;
}

export type Band = "low" | "medium" | "high";

export interface Cluster {
  members: number[];
  minSimilarity: number;
  meanSimilarity: number;
  band: Band;
}

export interface ClustersResponse {
  userId: string;
  model: string;
  threshold: number;
  imageCount: number;
  /** Images with no neighbour at or above the threshold. */
  singletonCount: number;
  clusters: Array<{
    id: string;
    size: number;
    band: Band;
    minSimilarity: number;
    meanSimilarity: number;
    images: Array<{ imageId: string; key: string }>;
  }>;
}

export interface SimilarResponse {
  userId: string;
  imageId: string;
  model: string;
  results: Array<{ imageId: string; key: string; similarity: number }>;
}

const round = (x: number): number => Math.round(x * 10_000) / 10_000;

/** Stable across requests and thresholds as long as the cluster keeps its smallest image id. */
function clusterId(userId: string, smallestImageId: string): string {
  return createHash("sha256").update(`${userId}/${smallestImageId}`).digest("base64url").slice(0, 16);
}

export function clustersView(snapshot: UserSnapshot, params: { threshold: number; minSize: number }, model: ModelDescriptor): ClustersResponse {
  const n = snapshot.images.length;
  const d = snapshot.dimension;
  const { threshold, minSize } = params;
  // The stored graph holds every pair at or above its floor, so it answers any threshold above it.
  const edges =
    snapshot.graph && threshold >= snapshot.graph.floor
      ? snapshot.graph.edges
      : edgesAbove(snapshot.vectors, n, d, threshold);
  const found = clusterEdges(n, edges, { threshold, minSize: 1, bands: model.defaults.bands });

  let singletonCount = 0;
  const clusters: ClustersResponse["clusters"] = [];
  for (const cluster of found) {
    if (cluster.members.length === 1) singletonCount++;
    if (cluster.members.length < minSize) continue;
    const images = cluster.members.map((i) => ({ imageId: snapshot.images[i].imageId, key: snapshot.images[i].key }));
    const smallest = images.reduce((min, img) => (img.imageId < min ? img.imageId : min), images[0].imageId);
    clusters.push({
      id: clusterId(snapshot.userId, smallest),
      size: images.length,
      band: cluster.band,
      minSimilarity: round(cluster.minSimilarity),
      meanSimilarity: round(cluster.meanSimilarity),
      images,
    });
  }
  clusters.sort((x, y) => y.size - x.size || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  return {
    userId: snapshot.userId,
    model: snapshot.model || model.id,
    threshold,
    imageCount: n,
    singletonCount,
    clusters,
  };
}

/** The `limit` most similar other images, most similar first; undefined when the image is unknown. */
export function similarView(snapshot: UserSnapshot, imageId: string, limit: number, model: ModelDescriptor): SimilarResponse | undefined {
  const index = snapshot.images.findIndex((img) => img.imageId === imageId);
  if (index < 0) return undefined;
  const ranked = topSimilar(snapshot.vectors, snapshot.images.length, snapshot.dimension, index, limit);
  return {
    userId: snapshot.userId,
    imageId,
    model: snapshot.model || model.id,
    results: ranked.map(({ index: i, similarity }) => ({
      imageId: snapshot.images[i].imageId,
      key: snapshot.images[i].key,
      similarity: round(similarity),
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// TEMPORARY: exact single-link clustering until core/similarity exports its own. Replace the
// three functions below with imports of the same names; nothing else in this file changes.
// ---------------------------------------------------------------------------------------------

/** TEMPORARY. Every pair (a < b) with similarity >= floor, by exact O(n²·d) dot products. */
function edgesAbove(vectors: Float32Array, n: number, d: number, floor: number): Edges {
  const a: number[] = [];
  const b: number[] = [];
  const s: number[] = [];
  const scores = new Float32Array(n);
  for (let i = 0; i + 1 < n; i++) {
    // Only the rows after i: each pair once.
    const rest = n - i - 1;
    dotAgainstAll(vectors.subarray((i + 1) * d), rest, d, vectors.subarray(i * d, (i + 1) * d), scores);
    for (let k = 0; k < rest; k++) {
      if (scores[k] >= floor) {
        a.push(i);
        b.push(i + 1 + k);
        s.push(scores[k]);
      }
    }
  }
  return { a: Uint32Array.from(a), b: Uint32Array.from(b), s: Float32Array.from(s) };
}

/**
 * TEMPORARY. Connected components over the edges at or above the threshold (single link).
 * min/mean similarity are over the cluster's linking edges; the band follows the minimum.
 * Members ascend by index; singletons come back as one-member clusters with similarity 1.
 */
function clusterEdges(n: number, edges: Edges, opts: { threshold: number; minSize: number; bands: { medium: number; high: number } }): Cluster[] {
  const parent = new Uint32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  for (let e = 0; e < edges.s.length; e++) {
    if (edges.s[e] < opts.threshold) continue;
    const ra = find(edges.a[e]);
    const rb = find(edges.b[e]);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
  const byRoot = new Map<number, { members: number[]; min: number; sum: number; count: number }>();
  for (let i = 0; i < n; i++) {
    const root = find(i);
    let group = byRoot.get(root);
    if (!group) byRoot.set(root, (group = { members: [], min: Infinity, sum: 0, count: 0 }));
    group.members.push(i);
  }
  for (let e = 0; e < edges.s.length; e++) {
    if (edges.s[e] < opts.threshold) continue;
    const group = byRoot.get(find(edges.a[e]))!;
    group.min = Math.min(group.min, edges.s[e]);
    group.sum += edges.s[e];
    group.count++;
  }
  const out: Cluster[] = [];
  for (const group of byRoot.values()) {
    if (group.members.length < opts.minSize) continue;
    const minSimilarity = group.count ? group.min : 1;
    const meanSimilarity = group.count ? group.sum / group.count : 1;
    const band: Band = minSimilarity >= opts.bands.high ? "high" : minSimilarity >= opts.bands.medium ? "medium" : "low";
    out.push({ members: group.members, minSimilarity, meanSimilarity, band });
  }
  return out;
}

/** TEMPORARY. The `limit` nearest other rows to row `index`, by exact dot product. */
function topSimilar(vectors: Float32Array, n: number, d: number, index: number, limit: number): Array<{ index: number; similarity: number }> {
  const scores = dotAgainstAll(vectors, n, d, vectors.subarray(index * d, (index + 1) * d), new Float32Array(n));
  const order: number[] = [];
  for (let i = 0; i < n; i++) if (i !== index) order.push(i);
  order.sort((x, y) => scores[y] - scores[x] || x - y);
  return order.slice(0, limit).map((i) => ({ index: i, similarity: scores[i] }));
}
