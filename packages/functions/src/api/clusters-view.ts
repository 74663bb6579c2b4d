/**
 * The one seam between the API and the similarity module: a user's snapshot plus the query
 * parameters in, the response body out. Thresholds and similarities are on the model's
 * calibrated scale; the stored graph and its floor are raw cosine.
 */
import { createHash } from "node:crypto";
import type { ModelDescriptor } from "@photo-clusters/core/models";
import { clusterEdges, clusterOptionsFor, clusterVectors, graphAnswers, toCosine, toSimilarity, topSimilar, type Band, type Edges } from "@photo-clusters/core/similarity/index";
import { InvalidParameterError } from "./errors.ts";

/** Above this many photos a threshold below the model's graph floor is refused (about 1 s of work at 3000). */
export const MAX_IMAGES_BELOW_FLOOR = 3000;

export type { Band, Edges };

/** Structurally the store's snapshot: n images, their n×d normalised vectors, the optional graph. */
export interface UserSnapshot {
  userId: string;
  model: string;
  dimension: number;
  images: ReadonlyArray<{ imageId: string; key: string; etag?: string }>;
  vectors: Float32Array;
  /** Every pair at or above `floor` (raw cosine); null when it does not cover the images. */
  graph?: { floor: number; edges: Edges } | null;
}

export interface ClustersResponse {
  userId: string;
  model: string;
  threshold: number;
  imageCount: number;
  /** Images that are alone in their group at this threshold. */
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
  const base = clusterOptionsFor(model, { threshold, minSize: 1 });
  // Below the model's floor the cut needs pairs the graph never kept: compute them exactly, which
  // costs O(n²) time and edges, so only for libraries small enough to answer within the timeout.
  const cut = toCosine(threshold, base.calibration);
  if (cut > 0 && cut < base.floor && n > MAX_IMAGES_BELOW_FLOOR) {
    const lowest = Math.ceil(toSimilarity(base.floor, base.calibration) * 100) / 100;
    throw new InvalidParameterError(`threshold must be at least ${lowest} for a user with more than ${MAX_IMAGES_BELOW_FLOOR} photos`);
  }
  const opts = cut > 0 && cut < base.floor ? { ...base, floor: cut } : base;
  const graph = snapshot.graph;
  const found =
    n === 0 ? [] : graph && graphAnswers(graph.floor, opts) ? clusterEdges(n, graph.edges, opts) : clusterVectors(snapshot.vectors, n, d, opts);

  let singletonCount = 0;
  const clusters: ClustersResponse["clusters"] = [];
  for (const cluster of found) {
    if (cluster.members.length === 1) singletonCount++;
    if (cluster.members.length < minSize) continue;
    // Ordered by image id, not by storage order: re-uploading a photo must not reshuffle the answer.
    const images = cluster.members
      .map((i) => ({ imageId: snapshot.images[i].imageId, key: snapshot.images[i].key }))
      .sort((x, y) => (x.imageId < y.imageId ? -1 : x.imageId > y.imageId ? 1 : 0));
    clusters.push({
      id: clusterId(snapshot.userId, images[0].imageId),
      size: images.length,
      band: cluster.band,
      minSimilarity: round(cluster.minSimilarity),
      meanSimilarity: round(cluster.meanSimilarity),
      images,
    });
  }
  // Largest first, then by smallest image id.
  clusters.sort((x, y) => y.size - x.size || (x.images[0].imageId < y.images[0].imageId ? -1 : 1));
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
  const ranked = topSimilar(snapshot.vectors, snapshot.images.length, snapshot.dimension, index, limit, model.defaults.calibration);
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
