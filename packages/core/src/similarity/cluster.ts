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
import { componentRoots, type Edges, edgesForCut } from "./edges.ts";
import { averageLinkage, averageLinkageDense, DENSE_LIMIT } from "./linkage.ts";

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
  /** clusterVectors: past this many pairs at or above the floor, TooManyPairsError (the exact path's budget). */
  maxPairs?: number;
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

/**
 * Whether a stored graph holding every pair at or above `graphFloor` answers these options
 * exactly: it does for every threshold, as long as it keeps all pairs down to opts.floor.
 */
export function graphAnswers(graphFloor: number, opts: ClusterOptions): boolean {
  return graphFloor <= opts.floor;
}

function checkOptions(opts: ClusterOptions): void {
  if (!(opts.threshold >= 0 && opts.threshold <= 1)) throw new InvalidParameterError(`threshold must be in [0, 1], got ${opts.threshold}`);
  if (!(opts.floor > 0 && opts.floor <= 1)) throw new InvalidParameterError(`floor must be in (0, 1], got ${opts.floor}`);
  const minSize = opts.minSize ?? 2;
  if (!Number.isInteger(minSize) || minSize < 1) throw new InvalidParameterError(`minSize must be a positive integer, got ${minSize}`);
}

/** Clusters of the n images given every edge (a ≠ b, each pair once) at or above the floor. */
export function clusterEdges(n: number, edges: Edges, opts: ClusterOptions): Cluster[] {
  checkOptions(opts);
  const cut = toCosine(opts.threshold, opts.calibration);
  const { floor } = opts;
  const { a: ea, b: eb, s: es } = edges;
  const m = ea.length;
  for (let e = 0; e < m; e++) {
    if (ea[e] >= n || eb[e] >= n || ea[e] === eb[e]) throw new RangeError(`edge ${e} (${ea[e]}, ${eb[e]}) is not a pair of 0..${n - 1}`);
  }
  // Every average of values ≥ 0 reaches a cut ≤ 0: all images form one cluster.
  if (cut <= 0) return describe(n, edges, opts, new Int32Array(n));

  // 1. Components of the pairs at or above the cut (and known to the graph); root = smallest member.
  const strong = strongCut(opts);
  const root = componentRoots(n, ea, eb, (e) => es[e] >= strong);
  const compSize = new Int32Array(n);
  for (let i = 0; i < n; i++) compSize[root[i]]++;

  // 2. A component of 3+ members with a pair under the cut needs the linkage; others are final.
  const strongPairs = new Int32Array(n);
  const knownPairs = new Int32Array(n);
  for (let e = 0; e < m; e++) {
    const r = root[ea[e]];
    if (es[e] < floor || r !== root[eb[e]]) continue;
    knownPairs[r]++;
    if (es[e] >= strong) strongPairs[r]++;
  }
  const label = Int32Array.from(root);
  const slot = new Int32Array(n).fill(-1);
  let comps = 0;
  for (let r = 0; r < n; r++) {
    if (root[r] === r && compSize[r] >= 3 && strongPairs[r] < (compSize[r] * (compSize[r] - 1)) / 2) slot[r] = comps++;
  }
  if (comps > 0) splitByLinkage(n, edges, floor, cut, root, compSize, knownPairs, slot, comps, label);
  return describe(n, edges, opts, label);
}

/** Runs the average linkage in each component with a slot, members and edges laid out by slot. */
function splitByLinkage(
  n: number,
  edges: Edges,
  floor: number,
  cut: number,
  root: Int32Array,
  compSize: Int32Array,
  knownPairs: Int32Array,
  slot: Int32Array,
  comps: number,
  label: Int32Array,
): void {
  const memberStart = new Int32Array(comps + 1);
  const edgeStart = new Int32Array(comps + 1);
  for (let r = 0; r < n; r++) {
    if (slot[r] < 0) continue;
    memberStart[slot[r] + 1] = compSize[r];
    edgeStart[slot[r] + 1] = knownPairs[r];
  }
  for (let c = 0; c < comps; c++) {
    memberStart[c + 1] += memberStart[c];
    edgeStart[c + 1] += edgeStart[c];
  }
  const members = new Int32Array(memberStart[comps]);
  const local = new Int32Array(n);
  const fill = memberStart.slice(0, comps);
  for (let i = 0; i < n; i++) {
    const c = slot[root[i]];
    if (c < 0) continue;
    local[i] = fill[c] - memberStart[c];
    members[fill[c]++] = i; // ascending, as i ascends
  }
  const total = edgeStart[comps];
  const u = new Int32Array(total);
  const v = new Int32Array(total);
  const s = new Float64Array(total);
  const next = edgeStart.slice(0, comps);
  for (let e = 0; e < edges.a.length; e++) {
    const a = edges.a[e];
    const c = slot[root[a]];
    if (c < 0 || edges.s[e] < floor || root[a] !== root[edges.b[e]]) continue;
    const k = next[c]++;
    u[k] = local[a];
    v[k] = local[edges.b[e]];
    s[k] = edges.s[e];
  }
  for (let c = 0; c < comps; c++) {
    const m = memberStart[c + 1] - memberStart[c];
    const list = members.subarray(memberStart[c], memberStart[c + 1]);
    const e0 = edgeStart[c];
    const e1 = edgeStart[c + 1];
    const part = { u: u.subarray(e0, e1), v: v.subarray(e0, e1), s: s.subarray(e0, e1), count: e1 - e0 };
    const labels = m <= DENSE_LIMIT ? averageLinkageDense(m, part, cut, list) : averageLinkage(m, part, cut, list);
    for (let i = 0; i < m; i++) label[list[i]] = list[labels[i]];
  }
}

/** Members, statistics and band of each cluster, largest first, then by smallest member. */
function describe(n: number, edges: Edges, opts: ClusterOptions, label: Int32Array): Cluster[] {
  const minSize = opts.minSize ?? 2;
  const size = new Int32Array(n);
  for (let i = 0; i < n; i++) size[label[i]]++;
  const sum = new Float64Array(n);
  const count = new Float64Array(n);
  const min = new Float64Array(n).fill(Infinity);
  for (let e = 0; e < edges.a.length; e++) {
    const s = edges.s[e];
    const l = label[edges.a[e]];
    if (s < opts.floor || l !== label[edges.b[e]] || size[l] < minSize) continue;
    sum[l] += s;
    count[l]++;
    if (s < min[l]) min[l] = s;
  }
  // Members of each kept cluster, in ascending order, keyed by label.
  const lists = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const l = label[i];
    if (size[l] < minSize) continue;
    const list = lists.get(l);
    if (list) list.push(i);
    else lists.set(l, [i]);
  }
  const clusters: Cluster[] = [];
  for (const [l, list] of lists) {
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

/** The pairs that decide the clusters: those at or above max(cut, floor). See edgesForCut. */
export function strongCut(opts: ClusterOptions): number {
  return Math.max(toCosine(opts.threshold, opts.calibration), opts.floor);
}

/**
 * The exact path: from the vectors, the edges at or above the floor that can matter at this cut
 * (edgesForCut), then clusterEdges; the same clusters as from every edge above the floor.
 */
export function clusterVectors(vectors: Float32Array, n: number, d: number, opts: ClusterOptions): Cluster[] {
  checkOptions(opts);
  return clusterEdges(n, edgesForCut(vectors, n, d, opts.floor, strongCut(opts), { maxPairs: opts.maxPairs }), opts);
}
