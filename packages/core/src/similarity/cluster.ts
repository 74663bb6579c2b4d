/**
 * Clusters of images at a similarity threshold, from the neighbour graph alone.
 *
 * Method: average linkage (UPGMA) over pair values = cosine for pairs at or above the graph
 * floor, 0 below it; the dendrogram is cut at the threshold (converted to cosine through the
 * model's calibration). Single-link components at the threshold bound every cluster (an average
 * ≥ t needs one pair ≥ t), so the linkage only runs inside components; a component whose pairs
 * are all ≥ t is one cluster outright. Everything depends only on edges ≥ floor, so the stored
 * graph and the exact path (edgesAbove + clusterEdges) give the same clusters.
 *
 * Cluster statistics are over all member pairs, with a pair below the floor counted as 0:
 * meanSimilarity is the same average the linkage uses, minSimilarity the weakest pair. Both are
 * reported on the calibrated scale; the band follows minSimilarity.
 */
import { InvalidParameterError } from "../errors.ts";
import type { ModelDescriptor } from "../models.ts";
import { type Calibration, toCosine, toSimilarity } from "./calibration.ts";
import { type Edges, edgesAbove } from "./edges.ts";
import { averageLinkage, type ComponentEdges } from "./linkage.ts";

export type Band = "low" | "medium" | "high";

export interface Cluster {
  /** Indexes of the member vectors, ascending. */
  members: number[];
  minSimilarity: number;
  meanSimilarity: number;
  band: Band;
}

export interface ClusterOptions {
  /** On the calibrated scale, in [0, 1]. */
  threshold: number;
  /** Raw cosine: pairs below it are unknown to the graph and count as 0. In (0, 1]. */
  floor: number;
  /** Smallest cluster returned (default 2). */
  minSize?: number;
  bands: { medium: number; high: number };
  calibration?: Calibration;
}

/** Options from a model's defaults, with the caller's threshold and minSize. */
export function clusterOptionsFor(model: ModelDescriptor, query: { threshold?: number; minSize?: number } = {}): ClusterOptions {
  const d = model.defaults;
  return {
    threshold: query.threshold ?? d.threshold,
    floor: d.graphFloor,
    minSize: query.minSize ?? 2,
    bands: d.bands,
    calibration: d.calibration,
  };
}

function checkOptions(opts: ClusterOptions): void {
  if (!(opts.threshold >= 0 && opts.threshold <= 1)) throw new InvalidParameterError(`threshold must be in [0, 1], got ${opts.threshold}`);
  if (!(opts.floor > 0 && opts.floor <= 1)) throw new InvalidParameterError(`floor must be in (0, 1], got ${opts.floor}`);
  const minSize = opts.minSize ?? 2;
  if (!Number.isInteger(minSize) || minSize < 1) throw new InvalidParameterError(`minSize must be a positive integer, got ${minSize}`);
}

function find(parent: Int32Array, x: number): number {
  while (parent[x] !== x) {
    parent[x] = parent[parent[x]];
    x = parent[x];
  }
  return x;
}

/** Clusters of the n images given every edge (a ≠ b, each pair once) at or above the floor. */
export function clusterEdges(n: number, edges: Edges, opts: ClusterOptions): Cluster[] {
  checkOptions(opts);
  const cut = toCosine(opts.threshold, opts.calibration);
  const { floor } = opts;
  const m = edges.a.length;
  for (let e = 0; e < m; e++) {
    if (edges.a[e] >= n || edges.b[e] >= n || edges.a[e] === edges.b[e]) throw new RangeError(`edge ${e} (${edges.a[e]}, ${edges.b[e]}) is not a pair of 0..${n - 1}`);
  }

  // 1. Components of the pairs at or above the cut (and known to the graph).
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const strong = Math.max(cut, floor);
  if (cut <= 0) {
    // Every average of values ≥ 0 reaches a cut ≤ 0: all images form one cluster.
    return describe(n, edges, opts, new Int32Array(n));
  }
  {
    for (let e = 0; e < m; e++) {
      if (edges.s[e] < strong) continue;
      const ra = find(parent, edges.a[e]);
      const rb = find(parent, edges.b[e]);
      if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
    }
  }
  const root = new Int32Array(n);
  const compSize = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    root[i] = find(parent, i);
    compSize[root[i]]++;
  }

  // 2. Known internal pairs of each component of 3+ members, counted and bucketed.
  const internal = new Int32Array(n);
  const strongInternal = new Int32Array(n);
  for (let e = 0; e < m; e++) {
    const s = edges.s[e];
    if (s < floor || root[edges.a[e]] !== root[edges.b[e]]) continue;
    internal[root[edges.a[e]]]++;
    if (s >= strong) strongInternal[root[edges.a[e]]]++;
  }
  // The final label of every image: a representative index (its cluster's smallest member).
  const label = Int32Array.from(root);
  // A component whose pairs are all ≥ the cut is one cluster: every average of them reaches it.
  const needsLinkage = (r: number) => compSize[r] >= 3 && strongInternal[r] < (compSize[r] * (compSize[r] - 1)) / 2;
  let linkageRoots = 0;
  for (let r = 0; r < n; r++) if (root[r] === r && needsLinkage(r)) linkageRoots++;
  if (linkageRoots > 0) splitByLinkage(n, edges, floor, cut, root, compSize, internal, needsLinkage, label);

  return describe(n, edges, opts, label);
}

function splitByLinkage(
  n: number, edges: Edges, floor: number, cut: number, root: Int32Array, compSize: Int32Array,
  internal: Int32Array, needsLinkage: (r: number) => boolean, label: Int32Array,
): void {
  // Local ids inside each component, members in ascending index order.
  const local = new Int32Array(n);
  const members = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = root[i];
    if (!needsLinkage(r)) continue;
    let list = members.get(r);
    if (!list) members.set(r, (list = []));
    local[i] = list.length;
    list.push(i);
  }
  const buckets = new Map<number, ComponentEdges>();
  for (const [r] of members) {
    const k = internal[r];
    buckets.set(r, { u: new Int32Array(k), v: new Int32Array(k), s: new Float64Array(k), count: 0 });
  }
  for (let e = 0; e < edges.a.length; e++) {
    const a = edges.a[e];
    const r = root[a];
    if (edges.s[e] < floor || r !== root[edges.b[e]] || !needsLinkage(r)) continue;
    const bucket = buckets.get(r)!;
    bucket.u[bucket.count] = local[a];
    bucket.v[bucket.count] = local[edges.b[e]];
    bucket.s[bucket.count] = edges.s[e];
    bucket.count++;
  }
  for (const [r, list] of members) {
    const labels = averageLinkage(compSize[r], buckets.get(r)!, cut, list);
    for (let i = 0; i < list.length; i++) label[list[i]] = list[labels[i]];
  }
}

/** Members, statistics and band of each cluster, largest first, then by smallest member. */
function describe(n: number, edges: Edges, opts: ClusterOptions, label: Int32Array): Cluster[] {
  const minSize = opts.minSize ?? 2;
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    let g = groups.get(label[i]);
    if (!g) groups.set(label[i], (g = []));
    g.push(i);
  }
  const sum = new Float64Array(n);
  const count = new Float64Array(n);
  const min = new Float64Array(n).fill(Infinity);
  for (let e = 0; e < edges.a.length; e++) {
    const s = edges.s[e];
    const l = label[edges.a[e]];
    if (s < opts.floor || l !== label[edges.b[e]]) continue;
    sum[l] += s;
    count[l]++;
    if (s < min[l]) min[l] = s;
  }
  const clusters: Cluster[] = [];
  for (const [l, list] of groups) {
    if (list.length < minSize) continue;
    const pairs = (list.length * (list.length - 1)) / 2;
    const minCos = pairs === 0 ? 1 : count[l] < pairs ? 0 : min[l];
    const meanCos = pairs === 0 ? 1 : sum[l] / pairs;
    const minSimilarity = toSimilarity(minCos, opts.calibration);
    clusters.push({
      members: list,
      minSimilarity,
      meanSimilarity: toSimilarity(meanCos, opts.calibration),
      band: minSimilarity >= opts.bands.high ? "high" : minSimilarity >= opts.bands.medium ? "medium" : "low",
    });
  }
  return clusters.sort((x, y) => y.members.length - x.members.length || x.members[0] - y.members[0]);
}

/** The exact path: all edges at or above the floor from the vectors, then clusterEdges. */
export function clusterVectors(vectors: Float32Array, n: number, d: number, opts: ClusterOptions): Cluster[] {
  checkOptions(opts);
  return clusterEdges(n, edgesAbove(vectors, n, d, opts.floor), opts);
}
