/**
 * The facts file (`<model>.facts`): each photo's facts (facts/photo-facts.ts), apart from the log so
 * that the log's format, and every file derived from it, stay as they were. Little-endian:
 *   "PCLUSFCT" | u16 version (1) | u16 stamp (random: a file rewritten at its path has another) | u32 crc32 of the 12 bytes before
 * then one frame (see frame.ts) per write, its payload UTF-8 JSON: `[[key, logCrc, facts], …]`.
 * An entry describes the log record of `key` whose frame checksum is `logCrc` (the refs file gives
 * each row's): the latest entry of a key holds, and only while that record is the key's live one,
 * so a photo replaced without facts, or a crash between the log and this file, never shows another
 * record's facts. Files written before facts existed have no facts file: their photos' facts are null.
 */
import { randomBytes } from "node:crypto";
import { crc32 } from "./crc32.ts";
import { allocFrame, FRAME_HEADER_BYTES, readFrame, sealFrame } from "./frame.ts";
import { isPhotoFacts, type PhotoFacts } from "../../facts/photo-facts.ts";

export const FACTS_VERSION = 1;
const MAGIC = "PCLUSFCT";
export const FACTS_HEADER_BYTES = 16;

export interface FactsEntry {
  key: string;
  /** The frame checksum of the log record these facts describe. */
  crc: number;
  facts: PhotoFacts;
}

export function encodeFactsHeader(): Buffer {
  const buf = Buffer.alloc(FACTS_HEADER_BYTES);
  buf.write(MAGIC, 0, "latin1");
  buf.writeUInt16LE(FACTS_VERSION, 8);
  randomBytes(2).copy(buf, 10);
  buf.writeUInt32LE(crc32(buf.subarray(0, 12)), 12);
  return buf;
}

/** "ok" for a version this code reads; "truncated" while the header is still being written. */
export function checkFactsHeader(buf: Buffer): "ok" | "truncated" | string {
  if (buf.length < FACTS_HEADER_BYTES) return "truncated";
  if (buf.toString("latin1", 0, 8) !== MAGIC) return "not a facts file";
  if (buf.readUInt32LE(12) !== crc32(buf.subarray(0, 12))) return "header checksum mismatch";
  const version = buf.readUInt16LE(8);
  return version === FACTS_VERSION ? "ok" : `facts format ${version}, newer than this code reads (${FACTS_VERSION})`;
}

export function encodeFactsFrame(entries: readonly FactsEntry[]): Buffer {
  const json = Buffer.from(JSON.stringify(entries.map((e) => [e.key, e.crc >>> 0, e.facts])), "utf8");
  const frame = allocFrame(json.length);
  json.copy(frame, FRAME_HEADER_BYTES);
  sealFrame(frame);
  return frame;
}

/**
 * The entries of the whole frames from `offset` on, and where they end: a torn frame (a write in
 * progress, or a crash) ends the read. Entries that are not facts (a hand-edited file) are skipped.
 */
export function readFactsFrames(buf: Buffer, offset: number, take: (entry: FactsEntry) => void): number {
  let at = offset;
  for (;;) {
    const frame = readFrame(buf, at);
    if (frame.status !== "ok") return at;
    let entries: unknown;
    try {
      entries = JSON.parse(buf.toString("utf8", frame.payloadStart, frame.payloadEnd));
    } catch {
      return at;
    }
    if (Array.isArray(entries))
      for (const e of entries)
        if (Array.isArray(e) && typeof e[0] === "string" && Number.isInteger(e[1]) && isPhotoFacts(e[2])) take({ key: e[0], crc: e[1] >>> 0, facts: e[2] });
    at = frame.next;
  }
}
