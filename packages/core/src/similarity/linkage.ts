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

interface Entry {
  value: number;
  x: number;
  y: number;
  vx: number;
  vy: number;
  /** Smallest member order keys of both clusters (lo ≤ hi), for a deterministic tie-break. */
  lo: number;
  hi: number;
}

/** Max-heap on (value desc, key asc). */
class Heap {
  private items: Entry[] = [];
  get size(): number {
    return this.items.length;
  }
  private before(a: Entry, b: Entry): boolean {
    return a.value > b.value || (a.value === b.value && (a.lo < b.lo || (a.lo === b.lo && a.hi < b.hi)));
  }
  push(e: Entry): void {
    const h = this.items;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }
  pop(): Entry {
    const h = this.items;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.before(h[l], h[m])) m = l;
        if (r < h.length && this.before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
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
  const minKey = Float64Array.from({ length: m }, (_, i) => order[i]);
  const parent = Int32Array.from({ length: m }, (_, i) => i);
  const sums: Array<Map<number, number>> = Array.from({ length: m }, () => new Map());
  const heap = new Heap();
  const entry = (value: number, x: number, y: number): Entry => ({
    value, x, y, vx: version[x], vy: version[y],
    lo: Math.min(minKey[x], minKey[y]), hi: Math.max(minKey[x], minKey[y]),
  });

  for (let e = 0; e < edges.count; e++) {
    const x = edges.u[e];
    const y = edges.v[e];
    sums[x].set(y, edges.s[e]);
    sums[y].set(x, edges.s[e]);
    if (edges.s[e] >= cut) heap.push(entry(edges.s[e], x, y));
  }

  while (heap.size > 0) {
    const top = heap.pop();
    if (version[top.x] !== top.vx || version[top.y] !== top.vy) continue;
    // Merge the cluster with fewer neighbours into the other one.
    const [keep, gone] = sums[top.x].size >= sums[top.y].size ? [top.x, top.y] : [top.y, top.x];
    const kept = sums[keep];
    kept.delete(gone);
    for (const [c, s] of sums[gone]) {
      if (c === keep) continue;
      const other = sums[c];
      other.delete(gone);
      const total = (kept.get(c) ?? 0) + s;
      kept.set(c, total);
      other.set(keep, total);
    }
    sums[gone] = new Map();
    size[keep] += size[gone];
    minKey[keep] = Math.min(minKey[keep], minKey[gone]);
    parent[gone] = keep;
    version[gone] = -1;
    version[keep]++;
    for (const [c, total] of kept) {
      const value = total / (size[keep] * size[c]);
      if (value >= cut) heap.push(entry(value, keep, c));
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
