/**
 * `similar` beyond the graph, in bounded memory: the rows of a view most similar to one of its rows,
 * by a scan of the user's log in chunks (log-stream.ts) instead of holding every vector (800 MB at
 * 100,000 photos of 2048 dimensions). The query's vector is found on the way; the chunks before its
 * chunk are read a second time. Memory: a chunk, its live vectors copied as a matrix and into the
 * kernel's memory (about three chunks, 12 MB), and the `limit` best, whatever the user's size.
 *
 * A view's rows are the log's records in order, and the refs file gave each its frame checksum: a
 * record whose checksum is not its row's means the log was replaced since the view was read (a
 * compaction), and the scan answers "stale" for the caller to read the view again.
 */
import { open } from "node:fs/promises";
import { CorruptStoreError } from "../../errors.ts";
import { dotAgainstAll } from "../../similarity/dot.ts";
import { decodeLogHeader } from "../format/file-header.ts";
import { LOG_CHUNK_BYTES, type LogChunk, scanLog } from "../format/log-stream.ts";
import { copyVector } from "../format/record-codec.ts";
import type { Nearest } from "../types.ts";

/** What the scan needs of a view: its rows, which are live, and each row's frame checksum. */
export interface ScannableView {
  readonly rows: number;
  readonly dimension: number;
  live(row: number): boolean;
  crc(row: number): number;
}

/** The `limit` live rows most similar to `row`, best first, ties by row; "stale" when the log is no longer the view's. */
export async function nearestInLog(
  logPath: string,
  view: ScannableView,
  row: number,
  limit: number,
  chunkBytes = LOG_CHUNK_BYTES,
): Promise<Nearest[] | "stale"> {
  const d = view.dimension;
  const fh = await open(logPath, "r");
  try {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const header = decodeLogHeader(head.subarray(0, bytesRead));
    if (header.status !== "ok") throw new CorruptStoreError(`${logPath}: unreadable header`);
    if (header.header.dimension !== d) return "stale";
    const { size } = await fh.stat();
    const best = new Best(limit);
    let query: Float32Array | null = null;
    let queryStart = -1;
    let stale = false;
    let matrix = new Float32Array(0);
    let scores = new Float32Array(0);

    /** Scores the chunk's records from `first` (an ordinal) that are live rows other than the query. */
    const score = (chunk: LogChunk, first: number, from: number, to: number) => {
      if (!query || from >= to) return;
      const rows: number[] = [];
      if (matrix.length < (to - from) * d) matrix = new Float32Array((to - from) * d);
      for (let i = from; i < to; i++) {
        const r = first + i;
        if (r === row || !view.live(r)) continue;
        copyVector(chunk.buf, chunk.parsed.records[i], matrix, rows.length);
        rows.push(r);
      }
      if (rows.length === 0) return;
      if (scores.length < rows.length) scores = new Float32Array(rows.length);
      dotAgainstAll(matrix, rows.length, d, query, scores);
      for (let k = 0; k < rows.length; k++) best.offer(rows[k], scores[k]);
    };

    /** Checks each record against its row; the part of the chunk the view holds. */
    const rowsOf = (chunk: LogChunk, first: number): number => {
      const { records, crcs } = chunk.parsed;
      const count = Math.max(0, Math.min(records.length, view.rows - first));
      for (let i = 0; i < count; i++) {
        if (crcs[i] !== view.crc(first + i)) {
          stale = true;
          return 0;
        }
      }
      return count;
    };

    // Every record the view holds, checked against its row: the query is copied when met, and its
    // chunk and every later one scored.
    let ordinal = 0;
    await scanLog(
      fh,
      header.header.length,
      size,
      d,
      (chunk) => {
        const first = ordinal;
        const count = rowsOf(chunk, first);
        if (stale) return "stop";
        ordinal += count;
        if (!query && row >= first && row < first + count) {
          const record = chunk.parsed.records[row - first];
          if (record.kind !== "put") {
            stale = true;
            return "stop";
          }
          query = new Float32Array(d);
          copyVector(chunk.buf, record, query, 0);
          queryStart = chunk.base;
        }
        score(chunk, first, 0, count);
        return ordinal >= view.rows ? "stop" : undefined;
      },
      chunkBytes,
    );
    if (stale || queryStart < 0 || ordinal < view.rows) return "stale";
    // The records before the query's chunk, read again now that the query is known (the same bytes:
    // the log only grows, and this handle stays on its file should a compaction replace it).
    ordinal = 0;
    await scanLog(
      fh,
      header.header.length,
      queryStart,
      d,
      (chunk) => {
        score(chunk, ordinal, 0, chunk.parsed.records.length);
        ordinal += chunk.parsed.records.length;
      },
      chunkBytes,
    );
    return best.sorted();
  } finally {
    await fh.close();
  }
}

/** The `limit` best (cosine descending, then row ascending), by insertion into a sorted list: limit is small. */
class Best {
  private readonly rows: number[] = [];
  private readonly cosines: number[] = [];
  constructor(private readonly limit: number) {}

  offer(row: number, cosine: number): void {
    const { rows, cosines, limit } = this;
    const better = (p: number) => cosine > cosines[p] || (cosine === cosines[p] && row < rows[p]);
    if (limit === 0 || (rows.length === limit && !better(limit - 1))) return;
    let p = rows.length === limit ? limit - 1 : rows.length;
    while (p > 0 && better(p - 1)) {
      rows[p] = rows[p - 1];
      cosines[p] = cosines[p - 1];
      p--;
    }
    rows[p] = row;
    cosines[p] = cosine;
  }

  sorted(): Nearest[] {
    return this.rows.map((row, i) => ({ row, cosine: this.cosines[i] }));
  }
}
