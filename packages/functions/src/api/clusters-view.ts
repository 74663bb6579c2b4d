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
import {
  type Band,
  type BestReason,
  captureMillis,
  DEFAULT_DUPLICATE_BOUNDS,
  dotF32,
  duplicateGroups,
  hashClosePairs,
  type PhotoFacts,
  suggestBest,
  type Cluster,
  clusterEdges,
  type ClusterOptions,
  clusterOptionsFor,
  clusterVectors,
  compareIds,
  type Edges,
  graphAnswers,
  InvalidParameterError,
  type ModelDescriptor,
  toCosine,
  TooManyPairsError,
  topSimilar,
  toSimilarity,
  type UserView,
} from "@photo-clusters/core";
import { cursorLengthBound } from "./params.ts";

/**
 * A threshold below the model's graph floor is answered from the vectors (the exact path): all
 * pairs of the user's photos are screened, O(n²·d), and every pair at or above the threshold is
 * clustered. What one such request may spend: a share of the function's memory and of its timeout.
 */
export interface ExactBudget {
  memoryBytes: number;
  seconds: number;
}

/** The API function's default share: a quarter of 1024 MB and half of a 10 s timeout. */
export const DEFAULT_EXACT_BUDGET: ExactBudget = { memoryBytes: 256 * 2 ** 20, seconds: 5 };

/** The exact path's limits: the most photos it screens and the most pairs it clusters. */
export interface ExactLimits {
  maxImages: number;
  maxPairs: number;
}

/*
 * Costs of the exact path, measured on this repository's machine by `pnpm bench --exact` (d = 2048;
 * docs/api.md has the figures), rounded up:
 * - screening every pair: 5·10⁻¹¹ s per pair and dimension, n²/2·d of them, with the read;
 * - the vectors read and prepared: 14 bytes per photo and dimension (float32 rows, and the screen's);
 * - each pair at or above the threshold: 350 bytes and 6 µs, its edge and average linkage over it
 *   (measured: 237–338 bytes and 3.8–4.8 µs, with all pairs in one component, the worst case).
 */
const SCREEN_SECONDS_PER_PAIR_DIM = 5e-11;
const BYTES_PER_PHOTO_DIM = 14;
const PAIR_BYTES = 350;
const PAIR_SECONDS = 6e-6;

/**
 * Half of the budget for the photos (their vectors in memory, and screening every pair of them),
 * half for the pairs at or above the threshold: the largest library, and the most pairs, that fit.
 */
export function exactLimits(dimension: number, budget: ExactBudget = DEFAULT_EXACT_BUDGET): ExactLimits {
  const byMemory = budget.memoryBytes / 2 / (BYTES_PER_PHOTO_DIM * dimension);
  const byTime = Math.sqrt(budget.seconds / (SCREEN_SECONDS_PER_PAIR_DIM * dimension));
  return {
    maxImages: Math.floor(Math.min(byMemory, byTime)),
    maxPairs: Math.floor(Math.min(budget.memoryBytes / 2 / PAIR_BYTES, budget.seconds / 2 / PAIR_SECONDS)),
  };
}
/**
 * Lambda's response limit is 6 MB, and API Gateway's Lambda integration carries the body as a JSON
 * string inside the response, where every `"` and `\` takes two bytes: a body of at most 2.75 MiB
 * stays under 6 MB (5.77 MiB) after that, with room for the headers.
 */
export const MAX_PAGE_BYTES = 2.75 * 2 ** 20;

export type { Band, Edges, UserView };

/** An image and its facts (docs/api.md gives each field's range); the facts are null for photos stored without them. */
interface ImageRefBody {
  imageId: string;
  key: string;
  takenAt: string | null;
  width: number | null;
  height: number | null;
  bytes: number | null;
  format: string | null;
  jpegQuality: number | null;
  sharpness: number | null;
  noise: number | null;
  exposure: PhotoFacts["exposure"] | null;
}

export interface ClusterBody {
  id: string;
  /** All of the cluster's images, also when this page holds only some of them. */
  size: number;
  band: Band;
  minSimilarity: number;
  meanSimilarity: number;
  /** The suggested keeper, and why; null when none of the cluster's photos has facts. */
  best: { imageId: string; reasons: BestReason[] } | null;
  /** Groups of images that are the same picture; each group on the page that holds its first image. */
  duplicates: string[][];
  /** The earliest and latest capture times among the cluster's photos; null when none is known. */
  takenFrom: string | null;
  takenTo: string | null;
  /** In capture-time order, photos without a time last (by image id). */
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
  /** What the exact path may spend (default DEFAULT_EXACT_BUDGET); its limits follow for the view's dimension. */
  exactBudget?: ExactBudget;
}

const round = (x: number): number => Math.round(x * 10_000) / 10_000;

/** Stable across requests and thresholds as long as the cluster keeps its smallest image id. */
function clusterId(userId: string, smallestImageId: string): string {
  return createHash("sha256").update(`${userId}/${smallestImageId}`).digest("base64url").slice(0, 16);
}

/** Whether answering these parameters needs the vectors, which a view from the graph files lacks. */
export function needsVectors(view: UserView, threshold: number, model: ModelDescriptor, exactBudget?: ExactBudget): boolean {
  if (view.vectors || view.imageCount === 0) return false;
  const opts = optionsFor(view, threshold, model, exactBudget);
  return !view.graph || !graphAnswers(view.graph.floor, opts);
}

function optionsFor(view: UserView, threshold: number, model: ModelDescriptor, exactBudget?: ExactBudget) {
  const base = clusterOptionsFor(model, { threshold, minSize: 1 });
  // Below the model's floor the cut needs pairs the graph never kept: compute them exactly, which
  // costs O(n²·d) time and a cost per pair, so only within the exact path's limits.
  const cut = toCosine(threshold, base.calibration);
  if (!(cut > 0 && cut < base.floor)) return base;
  const exact = exactLimits(view.dimension, exactBudget);
  if (view.imageCount > exact.maxImages)
    throw new InvalidParameterError(`threshold must be at least ${lowestAnswered(base)} for a user with more than ${exact.maxImages} photos`);
  return { ...base, floor: cut, maxPairs: exact.maxPairs };
}

/** The lowest threshold the graph answers for any number of photos, rounded up to a hundredth. */
const lowestAnswered = (opts: ClusterOptions): number => Math.ceil(toSimilarity(opts.floor, opts.calibration) * 100) / 100;

/** clusterVectors, with a refusal a caller can act on when the threshold lets through too many pairs. */
function exactClusters(vectors: Float32Array, n: number, d: number, opts: ClusterOptions, model: ModelDescriptor): Cluster[] {
  try {
    return clusterVectors(vectors, n, d, opts);
  } catch (error) {
    if (!(error instanceof TooManyPairsError)) throw error;
    const base = clusterOptionsFor(model);
    throw new InvalidParameterError(
      `threshold ${opts.threshold} is too low for this library: more than ${error.limit} pairs of photos are at or above it; raise it (the graph answers any threshold from ${lowestAnswered(base)})`,
    );
  }
}

interface Found {
  cluster: Cluster;
  /** Member rows by image id: re-uploading a photo must not reshuffle the answer. */
  rows: number[];
}

/** What a cluster's page needs beyond its rows: its images in their order, with facts, and its review. */
interface Reviewed {
  ordered: number[];
  facts: Array<PhotoFacts | null>;
  best: ClusterBody["best"];
  /** Each group's rows, in `ordered` order. */
  groups: number[][];
  takenFrom: string | null;
  takenTo: string | null;
}

/** A cluster's images by capture time (those without one last, by id), the suggested best and the duplicates. */
function review(view: UserView, rows: number[], cosine: (x: number, y: number) => number | null): Reviewed {
  const byRow = new Map(rows.map((r) => [r, view.facts(r)]));
  // Photos stored before facts existed: nothing to order or review by.
  if (rows.every((r) => byRow.get(r) === null)) return { ordered: rows, facts: rows.map(() => null), best: null, groups: [], takenFrom: null, takenTo: null };
  const time = (r: number) => {
    const t = byRow.get(r)?.takenAt;
    return t ? captureMillis(t) : Number.NaN;
  };
  // rows are in id order already: a stable sort keeps it among equal times.
  const ordered = rows
    .map((r) => ({ r, t: time(r) }))
    .sort((x, y) => (Number.isNaN(x.t) ? (Number.isNaN(y.t) ? 0 : 1) : Number.isNaN(y.t) ? -1 : x.t - y.t))
    .map((x) => x.r);
  const facts = ordered.map((r) => byRow.get(r) ?? null);
  const best = suggestBest(facts);
  const groups = duplicateGroups(facts, (i, j) => cosine(ordered[i], ordered[j])).map((g) => g.map((i) => ordered[i]));
  const timed = ordered.filter((r) => !Number.isNaN(time(r)));
  return {
    ordered,
    facts,
    best: best && { imageId: view.imageId(ordered[best.index]), reasons: best.reasons },
    groups,
    takenFrom: timed.length > 0 ? facts[0]!.takenAt : null,
    takenTo: timed.length > 0 ? facts[timed.length - 1]!.takenAt : null,
  };
}

/**
 * The raw cosine of the pairs a page's duplicate check asks about (hash-close pairs of one cluster):
 * from the vectors when the view has them, else from the graph's edges in one pass (a pair below
 * the graph's floor is not the same picture: null).
 */
function pairCosines(view: UserView, clusters: number[][]): (x: number, y: number) => number | null {
  const { vectors, dimension: d } = view;
  if (vectors && vectors.length >= view.rows * d) return (x, y) => dotF32(vectors, x * d, vectors, y * d, d);
  const wanted = new Map<number, number | null>();
  const id = (x: number, y: number) => Math.min(x, y) * view.rows + Math.max(x, y);
  for (const rows of clusters) {
    const facts = rows.map((r) => view.facts(r));
    if (facts.every((f) => f === null)) continue;
    for (const [i, j] of hashClosePairs(facts, DEFAULT_DUPLICATE_BOUNDS.maxHashDistance)) wanted.set(id(rows[i], rows[j]), null);
  }
  if (wanted.size > 0 && view.graph) {
    const { a, b, s } = view.graph.edges;
    for (let e = 0; e < a.length; e++) {
      const key = id(a[e], b[e]);
      if (wanted.has(key)) wanted.set(key, s[e]);
    }
  }
  return (x, y) => wanted.get(id(x, y)) ?? null;
}

function imageBody(view: UserView, row: number, facts: PhotoFacts | null): ImageRefBody {
  return {
    imageId: view.imageId(row),
    key: view.key(row),
    takenAt: facts?.takenAt ?? null,
    width: facts?.width ?? null,
    height: facts?.height ?? null,
    bytes: facts?.bytes ?? null,
    format: facts?.format ?? null,
    jpegQuality: facts?.jpegQuality ?? null,
    sharpness: facts?.sharpness ?? null,
    noise: facts?.noise ?? null,
    exposure: facts?.exposure ?? null,
  };
}

export function clustersView(view: UserView, params: PageParams, model: ModelDescriptor): ClustersResponse {
  const { threshold, minSize, limit, maxBytes = MAX_PAGE_BYTES } = params;
  const after = params.cursor === undefined ? undefined : decodeCursor(params.cursor, threshold, minSize);
  // Clusters of two or more: every live image outside them is alone (a replaced or deleted
  // record's row has no edges, so it is in none of them and is no image).
  const opts = { ...optionsFor(view, threshold, model, params.exactBudget), minSize: 2 };
  const graph = view.graph;
  let clusters: Cluster[] = [];
  if (view.imageCount > 0) {
    if (graph && graphAnswers(graph.floor, opts))
      clusters = toCosine(threshold, opts.calibration) <= 0 ? allInOne(view, graph.edges, opts) : clusterEdges(view.rows, graph.edges, opts);
    else if (view.vectors) clusters = exactClusters(view.vectors, view.rows, view.dimension, opts, model);
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
  // The clusters this page can show at most (by count), reviewed together: one pass over the edges.
  const shown = found.slice(start, start + limit);
  const cosine = pairCosines(
    view,
    shown.map((f) => f.rows),
  );
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
    const reviewed = review(view, rows, cosine);
    const body: ClusterBody = {
      id: clusterId(view.userId, firstId),
      size: rows.length,
      band: cluster.band,
      minSimilarity: round(cluster.minSimilarity),
      meanSimilarity: round(cluster.meanSimilarity),
      best: reviewed.best,
      duplicates: [],
      takenFrom: reviewed.takenFrom,
      takenTo: reviewed.takenTo,
      images: [],
    };
    const groupOf = new Map<number, number[]>();
    for (const g of reviewed.groups) groupOf.set(g[0], g);
    bytes += Buffer.byteLength(JSON.stringify(body)) + 40; // and `imagesOffset`, a comma
    // A page cut inside this cluster names it in nextCursor, and one that ends after it names the
    // next: room for the longer of the two is kept (an id JSON escapes makes one up to MAX_CURSOR_LENGTH).
    const ownCursor = nextCursor;
    nextCursor = i + 1 < found.length ? cursorBound(found[i + 1]) : 0;
    const cursorBytes = Math.max(ownCursor, nextCursor);
    let k = offset;
    for (; k < rows.length; k++) {
      const row = reviewed.ordered[k];
      const image = imageBody(view, row, reviewed.facts[k]);
      const group = groupOf.get(row)?.map((r) => view.imageId(r));
      const size = Buffer.byteLength(JSON.stringify(image)) + 1 + (group ? Buffer.byteLength(JSON.stringify(group)) + 1 : 0);
      // Every page takes at least one image, so paging always moves on.
      if (bytes + size + cursorBytes > maxBytes && (page.length > 0 || body.images.length > 0)) break;
      bytes += size;
      body.images.push(image);
      if (group) body.duplicates.push(group);
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
  return similarBody(view, imageId, ranked, model);
}

/** The answer from rows the store ranked (its `nearest`: raw cosines, best first). */
export function nearestView(
  view: UserView,
  imageId: string,
  neighbours: ReadonlyArray<{ row: number; cosine: number }>,
  model: ModelDescriptor,
): SimilarResponse {
  const calibration = model.defaults.calibration;
  return similarBody(
    view,
    imageId,
    neighbours.map((n) => ({ index: n.row, similarity: toSimilarity(n.cosine, calibration) })),
    model,
  );
}

function similarBody(view: UserView, imageId: string, ranked: Array<{ index: number; similarity: number }>, model: ModelDescriptor): SimilarResponse {
  return {
    userId: view.userId,
    imageId,
    model: view.model || model.id,
    results: ranked.map(({ index: i, similarity }) => ({ imageId: view.imageId(i), key: view.key(i), similarity: round(similarity) })),
  };
}
