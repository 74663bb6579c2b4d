/**
 * Average linkage (UPGMA) inside one connected component of the edge graph.
 *
 * Pair values: the cosine of an edge at or above the graph floor, 0 for every other pair.
 * Clusters are merged greedily, highest average first, while the best average is at least the
 * cut. Average linkage is reducible (a merged cluster is never closer to a third one than the
 * closer of its parts), so the merge values only decrease and the cut at t keeps exactly the
 * merges ≥ t: raising t can only split clusters.
 */
export interface ComponentEdges {
  /** Local member ids 0..m-1 of each edge, and its cosine (≥ floor). */
  u: Int32Array;
  v: Int32Array;
  s: Float64Array;
  count: number;
}

/**
 * Components up to this size use the dense O(m³) scan: no maps, no heap, faster when small. At 48
 * it takes the 35-photo components of bursts (five photos and their edits): clusterEdges on 2000
 * real embeddings in 4.1 against 5.4 ms at 32 (the same at 64, slower at 128).
 */
export const DENSE_LIMIT = 48;

/** The labels of averageLinkage, for small m: the same merges in the same order. */
export function averageLinkageDense(m: number, edges: ComponentEdges, cut: number, order: ArrayLike<number>): Int32Array {
  const sum = new Float64Array(m * m);
  for (let e = 0; e < edges.count; e++) {
    sum[edges.u[e] * m + edges.v[e]] = edges.s[e];
    sum[edges.v[e] * m + edges.u[e]] = edges.s[e];
  }
  const size = new Float64Array(m).fill(1);
  const active = new Uint8Array(m).fill(1);
  const minKey = new Float64Array(m);
  const label = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    minKey[i] = order[i];
    label[i] = i;
  }
  for (;;) {
    let best = -Infinity;
    let bx = -1;
    let by = -1;
    let bLo = 0;
    let bHi = 0;
    for (let x = 0; x < m; x++) {
      if (!active[x]) continue;
      for (let y = x + 1; y < m; y++) {
        if (!active[y]) continue;
        const total = sum[x * m + y];
        if (total === 0) continue;
        const value = total / (size[x] * size[y]);
        const lo = Math.min(minKey[x], minKey[y]);
        const hi = Math.max(minKey[x], minKey[y]);
        if (value > best || (value === best && (lo < bLo || (lo === bLo && hi < bHi)))) {
          best = value;
          bx = x;
          by = y;
          bLo = lo;
          bHi = hi;
        }
      }
    }
    if (bx < 0 || best < cut) break;
    for (let c = 0; c < m; c++) {
      if (!active[c] || c === bx || c === by) continue;
      const total = sum[bx * m + c] + sum[by * m + c];
      sum[bx * m + c] = total;
      sum[c * m + bx] = total;
    }
    size[bx] += size[by];
    minKey[bx] = Math.min(minKey[bx], minKey[by]);
    active[by] = 0;
    for (let i = 0; i < m; i++) if (label[i] === by) label[i] = bx;
  }
  return label;
}

/**
 * Candidate merges: a pool of entries in typed arrays (no per-entry objects, so no GC churn)
 * and a binary max-heap of pool indexes on (value desc, lo asc, hi asc). lo/hi are the smallest
 * member keys of the two clusters, for a deterministic tie-break.
 */
class MergeHeap {
  private cap = 256;
  private value = new Float64Array(this.cap);
  private lo = new Float64Array(this.cap);
  private hi = new Float64Array(this.cap);
  private x = new Int32Array(this.cap);
  private y = new Int32Array(this.cap);
  private vx = new Int32Array(this.cap);
  private vy = new Int32Array(this.cap);
  private heap = new Int32Array(this.cap);
  private used = 0;
  size = 0;

  private grow(): void {
    this.cap *= 2;
    const f = (a: Float64Array) => {
      const b = new Float64Array(this.cap);
      b.set(a);
      return b;
    };
    const i = (a: Int32Array) => {
      const b = new Int32Array(this.cap);
      b.set(a);
      return b;
    };
    this.value = f(this.value);
    this.lo = f(this.lo);
    this.hi = f(this.hi);
    this.x = i(this.x);
    this.y = i(this.y);
    this.vx = i(this.vx);
    this.vy = i(this.vy);
    this.heap = i(this.heap);
  }
  private before(p: number, q: number): boolean {
    const a = this.value[p];
    const b = this.value[q];
    return a > b || (a === b && (this.lo[p] < this.lo[q] || (this.lo[p] === this.lo[q] && this.hi[p] < this.hi[q])));
  }
  push(value: number, x: number, y: number, vx: number, vy: number, kx: number, ky: number): void {
    if (this.used === this.cap) this.grow();
    const k = this.used++;
    this.value[k] = value;
    this.x[k] = x;
    this.y[k] = y;
    this.vx[k] = vx;
    this.vy[k] = vy;
    this.lo[k] = Math.min(kx, ky);
    this.hi[k] = Math.max(kx, ky);
    const h = this.heap;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(k, h[p])) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = k;
  }
  /** Pops the best entry; returns its pool index (read with entryX/Y/VX/VY). */
  pop(): number {
    const h = this.heap;
    const top = h[0];
    const last = h[--this.size];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.size) break;
      const r = l + 1;
      const c = r < this.size && this.before(h[r], h[l]) ? r : l;
      if (!this.before(h[c], last)) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
    return top;
  }
  entryX(k: number): number {
    return this.x[k];
  }
  entryY(k: number): number {
    return this.y[k];
  }
  entryVX(k: number): number {
    return this.vx[k];
  }
  entryVY(k: number): number {
    return this.vy[k];
  }
}

/**
 * Labels (0..m-1, a label is a cluster's surviving local id) of the m members after cutting the
 * average-linkage dendrogram at `cut`. `order[i]` is a key that orders members (their global
 * index), used only to break exact ties.
 */
export function averageLinkage(m: number, edges: ComponentEdges, cut: number, order: ArrayLike<number>): Int32Array {
  const size = new Float64Array(m).fill(1);
  const version = new Int32Array(m);
  const minKey = new Float64Array(m);
  const parent = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    minKey[i] = order[i];
    parent[i] = i;
  }
  // Neighbour lists: cluster x's neighbours nbr[x][t] with pair sums sum[x][t]. Lists stay short
  // (a cluster's outside links), so linear scans beat maps here.
  const nbr: number[][] = new Array(m);
  const sum: number[][] = new Array(m);
  for (let i = 0; i < m; i++) {
    nbr[i] = [];
    sum[i] = [];
  }
  const heap = new MergeHeap();
  for (let e = 0; e < edges.count; e++) {
    const x = edges.u[e];
    const y = edges.v[e];
    const s = edges.s[e];
    nbr[x].push(y);
    sum[x].push(s);
    nbr[y].push(x);
    sum[y].push(s);
    if (s >= cut) heap.push(s, x, y, 0, 0, minKey[x], minKey[y]);
  }
  const removeAt = (list: number[], sums: number[], t: number) => {
    const last = list.length - 1;
    list[t] = list[last];
    sums[t] = sums[last];
    list.pop();
    sums.pop();
  };

  while (heap.size > 0) {
    const k = heap.pop();
    const tx = heap.entryX(k);
    const ty = heap.entryY(k);
    if (version[tx] !== heap.entryVX(k) || version[ty] !== heap.entryVY(k)) continue;
    // Merge the cluster with fewer neighbours into the other one.
    const keep = nbr[tx].length >= nbr[ty].length ? tx : ty;
    const gone = keep === tx ? ty : tx;
    const kn = nbr[keep];
    const ks = sum[keep];
    removeAt(kn, ks, kn.indexOf(gone));
    const gn = nbr[gone];
    const gs = sum[gone];
    for (let t = 0; t < gn.length; t++) {
      const c = gn[t];
      if (c === keep) continue;
      const cn = nbr[c];
      const cs = sum[c];
      const atGone = cn.indexOf(gone);
      const atKeep = cn.indexOf(keep);
      if (atKeep >= 0) {
        const total = cs[atKeep] + gs[t];
        cs[atKeep] = total;
        removeAt(cn, cs, atGone);
        ks[kn.indexOf(c)] = total;
      } else {
        cn[atGone] = keep;
        kn.push(c);
        ks.push(gs[t]);
      }
    }
    nbr[gone] = [];
    sum[gone] = [];
    size[keep] += size[gone];
    minKey[keep] = Math.min(minKey[keep], minKey[gone]);
    parent[gone] = keep;
    version[gone] = -1;
    version[keep]++;
    for (let t = 0; t < kn.length; t++) {
      const c = kn[t];
      const value = ks[t] / (size[keep] * size[c]);
      if (value >= cut) heap.push(value, keep, c, version[keep], version[c], minKey[keep], minKey[c]);
    }
  }

  const label = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    let r = i;
    while (parent[r] !== r) r = parent[r];
    label[i] = r;
  }
  return label;
}
