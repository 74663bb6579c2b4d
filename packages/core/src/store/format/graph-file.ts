/**
 * The neighbour graph file: a header naming the log file it describes, then append-only frames
 *   u32 from | u32 to | u32 recordsCrc | u32 edgeCount | u32 a[edgeCount] | u32 b[edgeCount] | f32 s[edgeCount]
 * A frame covers log records [from, to): it holds every edge (similarity >= floor) between a put
 * record in that range and an earlier put record, by record ordinal. `recordsCrc` is the crc32 of
 * those records' frame checksums, so a frame whose records never reached the log (a crash between
 * the two appends) is recognised and ignored. Edges to records that are no longer live are dropped
 * when reading, so deletes and replacements need no graph write of their own.
 * The writer appends the graph frame before the log records, so a reader that reads the log and
 * then the graph always finds the graph covering what it read.
 */
import { crc32 } from "./crc32.ts";
import { EdgeList } from "./edge-list.ts";
import { decodeGraphHeader, graphFits, type GraphHeader } from "./file-header.ts";
import { allocFrame, FRAME_HEADER_BYTES, readFrame, sealFrame } from "./frame.ts";

export function recordsCrc(crcs: Uint32Array, from: number, to: number): number {
  const part = crcs.subarray(from, to);
  return crc32(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
}

export function encodeGraphFrame(from: number, to: number, crcOfRecords: number, edges: EdgeList, first = 0): Buffer {
  const count = edges.length - first;
  const frame = allocFrame(16 + 12 * count);
  let p = FRAME_HEADER_BYTES;
  frame.writeUInt32LE(from, p);
  frame.writeUInt32LE(to, p + 4);
  frame.writeUInt32LE(crcOfRecords, p + 8);
  frame.writeUInt32LE(count, p + 12);
  p += 16;
  const put = (arr: Uint32Array | Float32Array) => {
    const part = arr.subarray(first, edges.length);
    frame.set(new Uint8Array(part.buffer, part.byteOffset, part.byteLength), p);
    p += part.byteLength;
  };
  put(edges.a);
  put(edges.b);
  put(edges.s);
  sealFrame(frame);
  return frame;
}

export interface ParsedGraph {
  header: GraphHeader;
  /** Log records covered by the valid frames read: [0, covered). */
  covered: number;
  /** Byte offset just past the last valid frame used. */
  usedEnd: number;
  /** Edges by record ordinal, a < b. */
  edges: EdgeList;
}

/**
 * Reads frames while they match the log's records (`crcs`, one per record), up to `crcs.length`.
 * Null when the file is missing a header, describes another log file, or was built for another floor.
 */
export function parseGraph(buf: Buffer, logFileId: string, crcs: Uint32Array, floor: number): ParsedGraph | null {
  const head = decodeGraphHeader(buf);
  if (head.status !== "ok") return null;
  const header = head.header;
  if (!graphFits(header, logFileId, floor)) return null;
  const edges = new EdgeList();
  const { covered, usedEnd } = readGraphFrames(buf, header.length, 0, crcs, (b, at, count) => edges.pushRaw(b, at, count));
  return { header, covered, usedEnd, edges };
}

/**
 * The frames of `buf` from `offset` on that continue from record `covered` and whose records' checksums
 * match `crcs`; each one's edges go to `onEdges` (count edges laid out as in the frame at `at`). Stops
 * at the first frame that is torn, corrupt, or describes records `crcs` does not hold (yet).
 */
export function readGraphFrames(
  buf: Buffer,
  offset: number,
  covered: number,
  crcs: Uint32Array,
  onEdges: (buf: Buffer, at: number, count: number, to: number, next: number) => void,
): { covered: number; usedEnd: number } {
  while (covered < crcs.length) {
    const frame = readFrame(buf, offset);
    if (frame.status !== "ok") break;
    const p = frame.payloadStart;
    if (frame.payloadEnd - p < 16) break;
    const from = buf.readUInt32LE(p);
    const to = buf.readUInt32LE(p + 4);
    const count = buf.readUInt32LE(p + 12);
    if (from !== covered || to < from || to > crcs.length || frame.payloadEnd - p !== 16 + 12 * count) break;
    if (buf.readUInt32LE(p + 8) !== recordsCrc(crcs, from, to)) break;
    onEdges(buf, p + 16, count, to, frame.next);
    covered = to;
    offset = frame.next;
  }
  return { covered, usedEnd: offset };
}
