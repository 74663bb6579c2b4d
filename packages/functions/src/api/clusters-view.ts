/**
 * The one seam between the API and the similarity module: a user's view plus the query parameters
 * in, the response body out. Thresholds and similarities are on the model's calibrated scale; the
 * stored graph and its floor are raw cosine.
 *
 * Clusters come largest first, then by their smallest image id, in pages: at most `limit` clusters
 * and MAX_PAGE_BYTES of JSON each. A cluster too big for what is left of a page is continued on the
 * next one (same `id`, `imagesOffset` saying where its images resume), so no answer is too big for
 * Lambda whatever the ids' lengths. The cursor names the last cluster sent and how many of its
 * images were sent: a write between two pages moves no cluster already past the cursor.
 */
import { createHash } from "node:crypto";
import type { ModelDescriptor } from "@photo-clusters/core/models";
import {
  clusterEdges,
  clusterOptionsFor,
  clusterVectors,
  graphAnswers,
  toCosine,
  toSimilarity,
  topSimilar,
  type Band,
  type Cluster,
  type Edges,
} from "@photo-clusters/core/similarity/index";
import { compareIds } from "@photo-clusters/core/keys";
import type { UserView } from "@photo-clusters/core/store/index";
import { InvalidParameterError } from "./errors.ts";
import { cursorLengthBound } from "./params.ts";

/** Above this many photos a threshold below the model's graph floor is refused (about 1 s of work at 3000). */
export const MAX_IMAGES_BELOW_FLOOR = 3000;
/**
 * Lambda's response limit is 6 MB, and API Gateway's Lambda integration carries the body as a JSON
 * string inside the response, where every `"` and `\` takes two bytes: a body of at most 2.75 MiB
 * stays under 6 MB (5.77 MiB) after that, with room for the headers.
 */
export const MAX_PAGE_BYTES = 2.75 * 2 ** 20;

export type { Band, Edges };

/** What the API reads of a user: the store's view (see the store's readView). */
export type UserSnapshot = UserView;

interface ImageRefBody {
  imageId: string;
  key: string;
}

export interface ClusterBody {
  id: string;
  /** All of the cluster's images, also when this page holds only some of them. */
  size: number;
  band: Band;
  minSimilarity: number;
  meanSimilarity: number;
  images: ImageRefBody[];
  /** Present when `images` is not all of them: the position of images[0] among them. */
  imagesOffset?: number;
}

export interface ClustersResponse {
  userId: string;
  model: string;
  threshold: number;
  imageCount: number;
  /** Images that are alone in their group at this threshold. */
  singletonCount: number;
  clusters: ClusterBody[];
  /** Present while more clusters remain: pass it as `cursor` for the next page. */
  nextCursor?: string;
}

export interface SimilarResponse {
  userId: string;
  imageId: string;
  model: string;
  results: Array<{ imageId: string; key: string; similarity: number }>;
}

export interface PageParams {
  threshold: number;
  minSize: number;
  limit: number;
  cursor?: string;
  /** Default MAX_PAGE_BYTES. */
  maxBytes?: number;
}

const round = (x: number): number => Math.round(x * 10_000) / 10_000;

/** Stable across requests and thresholds as long as the cluster keeps its smallest image id. */
function clusterId(userId: string, smallestImageId: string): string {
  return createHash("sha256").update(`${userId}/${smallestImageId}`).digest("base64url").slice(0, 16);
}

/** Whether answering these parameters needs the vectors, which a view from the graph files lacks. */
export function needsVectors(view: UserView, threshold: number, model: ModelDescriptor): boolean {
  if (view.vectors || view.imageCount === 0) return false;
  const opts = optionsFor(view, threshold, model);
  return !view.graph || !graphAnswers(view.graph.floor, opts);
}

function optionsFor(view: UserView, threshold: number, model: ModelDescriptor) {
  const base = clusterOptionsFor(model, { threshold, minSize: 1 });
  // Below the model's floor the cut needs pairs the graph never kept: compute them exactly, which
  // costs O(n²) time and edges, so only for libraries small enough to answer within the timeout.
  const cut = toCosine(threshold, base.calibration);
  if (cut > 0 && cut < base.floor && view.imageCount > MAX_IMAGES_BELOW_FLOOR) {
    const lowest = Math.ceil(toSimilarity(base.floor, base.calibration) * 100) / 100;
    throw new InvalidParameterError(`threshold must be at least ${lowest} for a user with more than ${MAX_IMAGES_BELOW_FLOOR} photos`);
  }
  return cut > 0 && cut < base.floor ? { ...base, floor: cut } : base;
}

interface Found {
  cluster: Cluster;
  /** Member rows by image id: re-uploading a photo must not reshuffle the answer. */
  rows: number[];
}

export function clustersView(view: UserView, params: PageParams, model: ModelDescriptor): ClustersResponse {
  const { threshold, minSize, limit, maxBytes = MAX_PAGE_BYTES } = params;
  const after = params.cursor === undefined ? undefined : decodeCursor(params.cursor, threshold, minSize);
  // Clusters of two or more: every live image outside them is alone (a replaced or deleted
  // record's row has no edges, so it is in none of them and is no image).
  const opts = { ...optionsFor(view, threshold, model), minSize: 2 };
  const graph = view.graph;
  let clusters: Cluster[] = [];
  if (view.imageCount > 0) {
    if (graph && graphAnswers(graph.floor, opts))
      clusters = toCosine(threshold, opts.calibration) <= 0 ? allInOne(view, graph.edges, opts) : clusterEdges(view.rows, graph.edges, opts);
    else if (view.vectors) clusters = clusterVectors(view.vectors, view.rows, view.dimension, opts);
    else throw new Error("clustersView needs the vectors for this threshold (see needsVectors)");
  }

  let singletonCount = view.imageCount;
  const found: Found[] = [];
  for (const cluster of clusters) {
    singletonCount -= cluster.members.length;
    if (cluster.members.length >= minSize) found.push({ cluster, rows: cluster.members.slice().sort((x, y) => view.compareIds(x, y)) });
  }
  found.sort((x, y) => y.rows.length - x.rows.length || view.compareIds(x.rows[0], y.rows[0]));

  let start = 0;
  let offset = 0;
  if (after) {
    const position = (f: Found) => (f.rows.length !== after.size ? after.size - f.rows.length : compareIds(view.imageId(f.rows[0]), after.first));
    // The first cluster at or after the cursor's: binary search, since the order is total.
    let high = found.length;
    while (start < high) {
      const mid = (start + high) >> 1;
      if (position(found[mid]) < 0) start = mid + 1;
      else high = mid;
    }
    if (start < found.length && position(found[start]) === 0) offset = after.sent;
  }
  const page: ClusterBody[] = [];
  let bytes = Buffer.byteLength(JSON.stringify({ userId: view.userId, model: view.model, threshold, imageCount: 0, singletonCount: 0, clusters: [] })) + 60; // the counts' digits, and `"nextCursor":""`
  let next: Cursor | undefined;
  const cursorBound = (f: Found) => cursorLengthBound(Buffer.byteLength(JSON.stringify(view.imageId(f.rows[0]))));
  let nextCursor = start < found.length ? cursorBound(found[start]) : 0;
  for (let i = start; i < found.length; i++) {
    const { cluster, rows } = found[i];
    const firstId = view.imageId(rows[0]);
    if (page.length === limit) {
      next = { size: rows.length, first: firstId, sent: 0 };
      break;
    }
    const body: ClusterBody = {
      id: clusterId(view.userId, firstId),
      size: rows.length,
      band: cluster.band,
      minSimilarity: round(cluster.minSimilarity),
      meanSimilarity: round(cluster.meanSimilarity),
      images: [],
    };
    bytes += Buffer.byteLength(JSON.stringify(body)) + 40; // and `imagesOffset`, a comma
    // A page cut inside this cluster names it in nextCursor, and one that ends after it names the
    // next: room for the longer of the two is kept (an id JSON escapes makes one up to MAX_CURSOR_LENGTH).
    const ownCursor = nextCursor;
    nextCursor = i + 1 < found.length ? cursorBound(found[i + 1]) : 0;
    const cursorBytes = Math.max(ownCursor, nextCursor);
    let k = offset;
    for (; k < rows.length; k++) {
      const image = { imageId: view.imageId(rows[k]), key: view.key(rows[k]) };
      const size = Buffer.byteLength(JSON.stringify(image)) + 1;
      // Every page takes at least one image, so paging always moves on.
      if (bytes + size + cursorBytes > maxBytes && (page.length > 0 || body.images.length > 0)) break;
      bytes += size;
      body.images.push(image);
    }
    if (offset > 0 || k < rows.length) body.imagesOffset = offset;
    if (body.images.length > 0) page.push(body);
    offset = 0;
    if (k < rows.length) {
      next = { size: rows.length, first: firstId, sent: k };
      break;
    }
  }
  const response: ClustersResponse = {
    userId: view.userId,
    model: view.model || model.id,
    threshold,
    imageCount: view.imageCount,
    singletonCount,
    clusters: page,
  };
  if (next) response.nextCursor = encodeCursor(next, threshold, minSize);
  return response;
}

/**
 * At a cut of 0 or below every image joins one cluster; clusterEdges would count a replaced or deleted
 * record's row in it, so the live rows are numbered densely first.
 */
function allInOne(view: UserView, edges: Edges, opts: ReturnType<typeof optionsFor>): Cluster[] {
  if (view.imageCount === view.rows) return clusterEdges(view.rows, edges, opts);
  const dense = new Int32Array(view.rows).fill(-1);
  const live: number[] = [];
  for (let row = 0; row < view.rows; row++) if (view.live(row)) dense[row] = live.push(row) - 1;
  const remapped = { a: edges.a.map((r) => dense[r]), b: edges.b.map((r) => dense[r]), s: edges.s };
  return clusterEdges(live.length, remapped, opts).map((c) => ({ ...c, members: c.members.map((i) => live[i]) }));
}

interface Cursor {
  size: number;
  first: string;
  sent: number;
}

function encodeCursor(c: Cursor, threshold: number, minSize: number): string {
  return Buffer.from(JSON.stringify([c.size, c.first, c.sent, threshold, minSize])).toString("base64url");
}

function decodeCursor(raw: string, threshold: number, minSize: number): Cursor {
  let parsed: unknown[] = [];
  try {
    const value: unknown = JSON.parse(Buffer.from(raw, "base64url").toString("utf8"));
    if (Array.isArray(value)) parsed = value;
  } catch {
    // reported below
  }
  const ok = parsed.length === 5 && Number.isInteger(parsed[0]) && typeof parsed[1] === "string" && Number.isInteger(parsed[2]) && (parsed[2] as number) >= 0;
  if (!ok) throw new InvalidParameterError("cursor is not one this API gave");
  if (parsed[3] !== threshold || parsed[4] !== minSize)
    throw new InvalidParameterError("cursor belongs to another threshold or minSize: pass the same ones as for the first page");
  return { size: parsed[0] as number, first: parsed[1] as string, sent: parsed[2] as number };
}

/**
 * The `limit` most similar other images, most similar first; undefined when the image is unknown,
 * null when the view has no vectors and its graph holds fewer than `limit` neighbours of the image
 * (the rest are below the floor, where only the vectors can rank them).
 */
export function similarView(view: UserView, imageId: string, limit: number, model: ModelDescriptor): SimilarResponse | undefined | null {
  const index = view.rowOf(imageId);
  if (index < 0) return undefined;
  const calibration = model.defaults.calibration;
  let ranked: Array<{ index: number; similarity: number }>;
  if (view.vectors) {
    ranked = topSimilar(view.vectors, view.rows, view.dimension, index, limit, calibration);
  } else {
    const edges = view.graph?.edges;
    if (!edges) return null;
    const near: Array<{ index: number; cosine: number }> = [];
    for (let e = 0; e < edges.a.length; e++) {
      if (edges.a[e] === index) near.push({ index: edges.b[e], cosine: edges.s[e] });
      else if (edges.b[e] === index) near.push({ index: edges.a[e], cosine: edges.s[e] });
    }
    if (near.length < limit) return null;
    near.sort((x, y) => y.cosine - x.cosine || x.index - y.index);
    ranked = near.slice(0, limit).map((x) => ({ index: x.index, similarity: toSimilarity(x.cosine, calibration) }));
  }
  return {
    userId: view.userId,
    imageId,
    model: view.model || model.id,
    results: ranked.map(({ index: i, similarity }) => ({ imageId: view.imageId(i), key: view.key(i), similarity: round(similarity) })),
  };
}
