/**
 * The neighbour graph: every pair of live images whose similarity (dot product of normalised
 * vectors, as dotF32 computes it) is at least the model's floor. A cluster query at or above the
 * floor walks these edges instead of comparing all pairs.
 *
 * The writer finds a new photo's edges without holding float32 vectors: it screens the photo against
 * the user's compact int8 rows (compact-rows.ts: a proven bound, so no pair that reaches the floor is
 * dropped) and computes the pairs that pass again from their float32 vectors in the log. A user
 * without compact rows (too large for the writer's memory budget) is scored against the log itself,
 * streamed in bounded chunks. Both give the same edges, with the same similarities, as all pairs.
 */
import type { FileHandle } from "node:fs/promises";
import { CorruptStoreError } from "../../errors.ts";
import { dotF32 } from "../../similarity/dot.ts";
import type { EdgeList } from "../format/edge-list.ts";
import type { LiveSet } from "./live-set.ts";
import { readVectorAt, scanLog } from "../format/log-stream.ts";
import { copyVector } from "../format/record-codec.ts";

/** Where the writer finds float32 vectors: those of a batch not yet in the log, by ordinal, and the log. */
export interface VectorSource {
  log: FileHandle;
  /** The log's header length and how far its records go (where a streamed scan starts and ends). */
  logStart: number;
  logEnd: number;
  pending?: ReadonlyMap<number, Float32Array>;
}

/** Exact re-scores read at once. */
const READS = 32;
/** New rows scored against one pass over the log when a user has no compact rows (4 MB at 2048 dimensions). */
const STREAM_BLOCK = 512;

/**
 * Adds the edges of every live row whose record ordinal is >= `fromOrdinal`, each to live rows of a
 * smaller ordinal (so each pair is found once, by its later record). Edges are by record ordinal.
 * Yields to the event loop between rows when there are many (keeps the lock's heartbeat alive).
 */
export async function addEdgesFrom(live: LiveSet, fromOrdinal: number, floor: number, edges: EdgeList, source: VectorSource): Promise<void> {
  const fresh: number[] = [];
  for (let slot = 0; slot < live.n; slot++) if (live.slotOrdinal[slot] >= fromOrdinal) fresh.push(slot);
  if (fresh.length === 0) return;
  const vector = (slot: number) => source.pending?.get(live.slotOrdinal[slot]) ?? readVectorAt(source.log, live.slotOffset[slot], live.dimension);
  if (!live.rows) {
    // By ordinal, in blocks: a graph rebuilt for a large user holds one block of vectors at a time.
    // A batch being written is one block, whatever its size: its vectors are in memory, not in the
    // log a block's scan reads.
    fresh.sort((x, y) => live.slotOrdinal[x] - live.slotOrdinal[y]);
    const block = source.pending && source.pending.size > 0 ? fresh.length : STREAM_BLOCK;
    for (let i = 0; i < fresh.length; i += block) await streamedEdges(live, fresh.slice(i, i + block), floor, edges, source, vector);
    return;
  }
  const marks = new Uint8Array(live.n);
  let work = 0;
  for (const slot of fresh) {
    const ordinal = live.slotOrdinal[slot];
    const mine = await vector(slot);
    live.rows.candidates(mine, live.n, floor, marks);
    const others: number[] = [];
    for (let j = 0; j < live.n; j++) if (marks[j] && live.slotOrdinal[j] < ordinal) others.push(j);
    for (let i = 0; i < others.length; i += READS) {
      const batch = others.slice(i, i + READS);
      const vectors = await Promise.all(batch.map(vector));
      batch.forEach((j, k) => {
        const s = dotF32(mine, 0, vectors[k]!, 0, live.dimension);
        if (s >= floor) edges.push(live.slotOrdinal[j], ordinal, s);
      });
    }
    work += live.n;
    if (work > 2_000_000) {
      work = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

/**
 * The same edges for `fresh` (rows in ordinal order), scored against every older live record of the
 * log as it is streamed from disk: memory is these rows and one chunk, whatever the user's size.
 */
async function streamedEdges(
  live: LiveSet,
  fresh: number[],
  floor: number,
  edges: EdgeList,
  source: VectorSource,
  vector: (slot: number) => Float32Array | Promise<Float32Array>,
): Promise<void> {
  const d = live.dimension;
  const mine = await Promise.all(fresh.map(async (slot) => ({ ordinal: live.slotOrdinal[slot], values: await vector(slot) })));
  mine.sort((x, y) => x.ordinal - y.ordinal);
  const found: Array<[number, number, number]> = [];
  // Pairs of two new rows: both in memory.
  for (let i = 0; i < mine.length; i++)
    for (let j = 0; j < i; j++) {
      const s = dotF32(mine[i]!.values, 0, mine[j]!.values, 0, d);
      if (s >= floor) found.push([mine[j]!.ordinal, mine[i]!.ordinal, s]);
    }
  // Every older live record against the new rows, a chunk of the log at a time.
  const oldest = mine[0]!.ordinal;
  const scratch = new Float32Array(d);
  let ordinal = 0;
  const read = await scanLog(source.log, source.logStart, source.logEnd, d, async ({ buf, parsed }) => {
    for (const r of parsed.records) {
      const o = ordinal++;
      if (o >= oldest || r.kind !== "put" || live.keys.get(r.key)?.ordinal !== o) continue;
      copyVector(buf, r, scratch, 0);
      for (const m of mine) {
        if (m.ordinal <= o) continue;
        const s = dotF32(m.values, 0, scratch, 0, d);
        if (s >= floor) found.push([o, m.ordinal, s]);
      }
    }
    await new Promise((resolve) => setImmediate(resolve));
  });
  // Records the writer has read before and checked: a scan that stops short of them is a corrupt log.
  if (read.validEnd !== source.logEnd)
    throw new CorruptStoreError(`the log's records end at byte ${read.validEnd}, not ${source.logEnd}, while scoring new photos`);
  // By new row, then by older row.
  found.sort((x, y) => x[1] - y[1] || x[0] - y[0]);
  for (const [a, b, s] of found) edges.push(a, b, s);
}
