/**
 * The neighbour graph: every pair of live images whose similarity (dot product of normalised
 * vectors) is at least the model's floor. A cluster query at or above the floor walks these edges
 * instead of comparing all pairs.
 */
import type { EdgeList } from "./edge-list.ts";
import type { LiveSet } from "./live-set.ts";

export interface NeighbourGraph {
  floor: number;
  /** Parallel arrays; a, b index the snapshot's `images`, a < b; s is the similarity. */
  edges: { a: Uint32Array; b: Uint32Array; s: Float32Array };
}

/**
 * Adds the edges of every live row whose record ordinal is >= `fromOrdinal`, each to live rows of a
 * smaller ordinal (so each pair is found once, by its later record). Edges are by record ordinal.
 * Yields to the event loop between chunks when there are many rows (keeps the lock's heartbeat alive).
 */
export async function addEdgesFrom(live: LiveSet, fromOrdinal: number, floor: number, edges: EdgeList): Promise<void> {
  const rows: number[] = [];
  for (let slot = 0; slot < live.n; slot++) if (live.slotOrdinal[slot] >= fromOrdinal) rows.push(slot);
  const scores = new Float32Array(live.n);
  let work = 0;
  for (const slot of rows) {
    edgesOfRow(live, slot, floor, edges, scores);
    work += live.n;
    if (work > 2_000_000) {
      work = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

function edgesOfRow(live: LiveSet, slot: number, floor: number, edges: EdgeList, scores: Float32Array): void {
  const n = live.n;
  const ordinal = live.slotOrdinal[slot];
  live.scoresOf(slot, scores);
  const ordinals = live.slotOrdinal;
  for (let j = 0; j < n; j++) {
    if (scores[j] >= floor && ordinals[j] < ordinal) edges.push(ordinals[j], ordinal, scores[j]);
  }
}
