/**
 * The log read in bounded chunks, for the writer: a user's log is as large as the user (800 MB at
 * 100,000 photos of 2048 dimensions), the writer's memory is not. `scanLog` hands over the complete
 * records of each chunk and finds the torn tail as parseRecords does for a whole buffer;
 * `readVectorAt` reads one record's float32 vector by its offset, for an exact re-score.
 */
import type { FileHandle } from "node:fs/promises";
import { readFrame } from "./frame.ts";
import { type ParsedRecords, parseRecords } from "./log-file.ts";

/** Bytes read at once: a few hundred records of 2048 dimensions. */
export const LOG_CHUNK_BYTES = 4 * 1024 * 1024;

export interface LogChunk {
  /** The chunk's bytes; offsets in `parsed` are positions in it. */
  buf: Buffer;
  /** The file offset of buf[0]. */
  base: number;
  parsed: ParsedRecords;
}

/**
 * Calls `onChunk` with the complete records of [start, end) in file order, a chunk at a time, until
 * it returns "stop". Returns the offset just past the last complete record read and how many bytes
 * after it are not one (a torn tail: a crash mid-append, a corrupt frame and everything after it).
 */
export async function scanLog(
  fh: FileHandle,
  start: number,
  end: number,
  dimension: number,
  onChunk: (chunk: LogChunk) => void | "stop" | Promise<void | "stop">,
  chunkBytes = LOG_CHUNK_BYTES,
): Promise<{ validEnd: number; tailBytes: number }> {
  let pos = start;
  let base = start;
  let carry: Buffer = Buffer.alloc(0);
  for (;;) {
    const readEnd = Math.min(pos + chunkBytes, end);
    // The record cut by the last chunk's end first, then this chunk read in after it: one copy of
    // at most a record, not of the chunk.
    const buf = Buffer.allocUnsafe(carry.length + (readEnd - pos));
    carry.copy(buf, 0);
    const filled = carry.length + (await readInto(fh, buf, carry.length, pos));
    pos = readEnd;
    const data = filled === buf.length ? buf : buf.subarray(0, filled);
    const parsed = parseRecords(data, 0, dimension);
    const stop = parsed.records.length > 0 && (await onChunk({ buf: data, base, parsed })) === "stop";
    base += parsed.validEnd;
    if (stop) return { validEnd: base, tailBytes: 0 };
    carry = data.subarray(parsed.validEnd);
    if (pos >= end) return { validEnd: base, tailBytes: carry.length };
    // A frame cut by the chunk's end is read whole with the next chunk; anything else that stops the
    // parse (a bad checksum, a record of another dimension) ends the records, as in a whole buffer.
    const next = readFrame(data, parsed.validEnd).status;
    if (next !== "truncated" && next !== "end") return { validEnd: base, tailBytes: end - base };
  }
}

/** Fills `buf` from `at` with the file's bytes from `position`; returns how many it read (fewer at the file's end). */
async function readInto(fh: FileHandle, buf: Buffer, at: number, position: number): Promise<number> {
  let done = 0;
  while (at + done < buf.length) {
    const { bytesRead } = await fh.read(buf, at + done, buf.length - at - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

const isLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The float32 vector of `dimension` values at byte `offset` of the log. */
export async function readVectorAt(fh: FileHandle, offset: number, dimension: number): Promise<Float32Array> {
  const out = new Float32Array(dimension);
  const bytes = new Uint8Array(out.buffer);
  let done = 0;
  while (done < bytes.length) {
    const { bytesRead } = await fh.read(bytes, done, bytes.length - done, offset + done);
    if (bytesRead === 0) throw new RangeError(`the log ends inside the vector at byte ${offset}`);
    done += bytesRead;
  }
  if (!isLittleEndian) {
    const view = new DataView(out.buffer);
    for (let k = 0; k < dimension; k++) out[k] = view.getFloat32(4 * k, true);
  }
  return out;
}
