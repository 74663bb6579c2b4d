/**
 * The refs file (`<model>.refs`): what a graph answer needs of each log record, without its vector,
 * so the API reads about 60 bytes a photo instead of 4·d. A header naming the log it mirrors (see
 * file-header.ts), then one frame (see frame.ts) per batch:
 *   u32 from | u32 count | count × ( u8 kind (1 put, 2 delete) | u8 0 | u16 keyLen | u16 imageIdLen
 *   | u16 etagLen | i32 supersedes | u32 logCrc | key | imageId | etag )
 * Entry i describes log record `from + i`. `supersedes` is the ordinal of the key's previous record
 * (-1 when none), so a reader learns which records are live without hashing keys. `logCrc` is the
 * record's frame checksum in the log: the writer checks refs against the log with it, and graph
 * frames name their records by it (graph-file.ts).
 * The writer appends a batch's refs frame after its log records are written and fdatasync'ed, so
 * refs never hold a record the log lacks; refs lost in a crash are rebuilt from the log by the next
 * writer, like the graph.
 */
import { allocFrame, FRAME_HEADER_BYTES, readFrame, sealFrame } from "./frame.ts";
import { KIND_DELETE, KIND_PUT } from "./record-codec.ts";

export interface RefEntry {
  kind: "put" | "delete";
  key: string;
  imageId: string;
  etag: string;
  supersedes: number;
  crc: number;
}

export function encodeRefsFrame(from: number, entries: readonly RefEntry[]): Buffer {
  const texts = entries.map((e) => [e.key, e.imageId, e.etag].map((t) => Buffer.from(t, "utf8")));
  const size = 8 + texts.reduce((n, t) => n + ENTRY.fixed + t[0].length + t[1].length + t[2].length, 0);
  const frame = allocFrame(size);
  let p = FRAME_HEADER_BYTES;
  frame.writeUInt32LE(from, p);
  frame.writeUInt32LE(entries.length, p + 4);
  p += 8;
  entries.forEach((e, i) => {
    const [key, id, etag] = texts[i];
    frame.writeUInt8(e.kind === "put" ? KIND_PUT : KIND_DELETE, p);
    frame.writeUInt16LE(key.length, p + 2);
    frame.writeUInt16LE(id.length, p + 4);
    frame.writeUInt16LE(etag.length, p + 6);
    frame.writeInt32LE(e.supersedes, p + 8);
    frame.writeUInt32LE(e.crc >>> 0, p + 12);
    p += ENTRY.fixed;
    for (const t of [key, id, etag]) p += t.copy(frame, p);
  });
  sealFrame(frame);
  return frame;
}

export type RefsFrameRead =
  /** `count` entries from byte `at`, walked with `ENTRY` offsets; `idBytes`: their keys and ids together. */
  { status: "ok"; from: number; count: number; at: number; idBytes: number; next: number } | { status: "end" | "truncated" | "corrupt" };

/** Byte offsets within an entry, and its fixed size before the key, image id and etag. */
export const ENTRY = { kind: 0, keyLen: 2, idLen: 4, etagLen: 6, supersedes: 8, crc: 12, fixed: 16 } as const;

/** The byte length of the entry at `p`. */
export const entryLength = (buf: Buffer, p: number): number =>
  ENTRY.fixed + buf.readUInt16LE(p + ENTRY.keyLen) + buf.readUInt16LE(p + ENTRY.idLen) + buf.readUInt16LE(p + ENTRY.etagLen);
export const entryIsPut = (buf: Buffer, p: number): boolean => buf[p] === KIND_PUT;

/** One frame at `offset`, its entries checked for layout: a torn or corrupt frame is reported, never walked. */
export function readRefsFrame(buf: Buffer, offset: number): RefsFrameRead {
  const frame = readFrame(buf, offset);
  if (frame.status !== "ok") return frame;
  const end = frame.payloadEnd;
  let p = frame.payloadStart;
  if (end - p < 8) return { status: "corrupt" };
  const from = buf.readUInt32LE(p);
  const count = buf.readUInt32LE(p + 4);
  p += 8;
  const at = p;
  let idBytes = 0;
  if (count > (end - p) / ENTRY.fixed) return { status: "corrupt" };
  for (let i = 0; i < count; i++) {
    if (p + ENTRY.fixed > end) return { status: "corrupt" };
    const kindByte = buf[p];
    const supersedes = buf.readInt32LE(p + 8);
    if ((kindByte !== KIND_PUT && kindByte !== KIND_DELETE) || supersedes < -1 || supersedes >= from + i) return { status: "corrupt" };
    idBytes += buf.readUInt16LE(p + ENTRY.keyLen) + buf.readUInt16LE(p + ENTRY.idLen);
    p += entryLength(buf, p);
  }
  if (p !== end) return { status: "corrupt" };
  return { status: "ok", from, count, at, idBytes, next: frame.next };
}
