/**
 * Headers of the two per-user files. Both end with a crc32 of the bytes before it and are written
 * whole before the file gets its final name, so a reader never sees a partial header.
 *
 * Embedding log (`<model>.emb`), little-endian:
 *   "PCLUSEMB" | u32 headerLength | u16 version | u8 dtype (1 = float32) | u8 byteOrder (1 = LE)
 *   | u32 dimension | 8-byte fileId | u16 modelIdLength | u16 0 | modelId | pad to 4 | u32 crc
 * Refs (`<model>.refs`): the log header's layout with magic "PCLUSREF"; its fileId is the log's, and
 *   its `u16 0` after modelIdLength is a random stamp.
 * Graph (`<model>.graph`):
 *   "PCLUSGRF" | u32 headerLength | u16 version | u16 stamp | f32 floor | 8-byte fileId of the log it
 *   describes | u32 crc
 * The stamp (random, 0 in files written before it existed) tells two writes of a derived file for the
 * same log apart, so a file replaced at its path is never taken for the one read before, even when
 * the filesystem gives the new one the old inode number; the header's crc covers it.
 * The fileId is random per log file, so a graph made for a log that was since compacted is seen as stale.
 */
import { randomBytes } from "node:crypto";
import { crc32 } from "./crc32.ts";

export const FORMAT_VERSION = 1;
const LOG_MAGIC = "PCLUSEMB";
const GRAPH_MAGIC = "PCLUSGRF";
const REFS_MAGIC = "PCLUSREF";
const DTYPE_FLOAT32 = 1;
const LITTLE_ENDIAN = 1;

export interface LogHeader {
  modelId: string;
  dimension: number;
  dtype: "float32";
  fileId: string; // 16 hex digits
  length: number;
  /** The header's own checksum: differs between two writes of a stamped header. */
  crc: number;
}

export interface GraphHeader {
  floor: number;
  logFileId: string;
  length: number;
  crc: number;
}

export type HeaderRead<T> = { status: "ok"; header: T } | { status: "truncated" } | { status: "corrupt"; reason: string };

export const newFileId = (): string => randomBytes(8).toString("hex");
const newStamp = (): number => randomBytes(2).readUInt16LE(0) || 1;

/** Whether a graph header was made for this log and floor. */
export function graphFits(header: GraphHeader, logFileId: string, floor: number): boolean {
  return header.logFileId === logFileId && header.floor === Math.fround(floor);
}

export function encodeLogHeader(modelId: string, dimension: number, fileId: string, magic = LOG_MAGIC, stamp = 0): Buffer {
  const idBytes = Buffer.byteLength(modelId, "utf8");
  const length = 32 + ((idBytes + 3) & ~3) + 4;
  const buf = Buffer.alloc(length);
  buf.write(magic, 0, "latin1");
  buf.writeUInt32LE(length, 8);
  buf.writeUInt16LE(FORMAT_VERSION, 12);
  buf.writeUInt8(DTYPE_FLOAT32, 14);
  buf.writeUInt8(LITTLE_ENDIAN, 15);
  buf.writeUInt32LE(dimension, 16);
  buf.write(fileId, 20, "hex");
  buf.writeUInt16LE(idBytes, 28);
  buf.writeUInt16LE(stamp, 30);
  buf.write(modelId, 32, "utf8");
  buf.writeUInt32LE(crc32(buf.subarray(0, length - 4)), length - 4);
  return buf;
}

export function decodeLogHeader(buf: Buffer, magic = LOG_MAGIC): HeaderRead<LogHeader> {
  const fixed = checkFixed(buf, magic, 36);
  if (fixed.status !== "ok") return fixed;
  const length = fixed.header;
  if (buf.readUInt8(14) !== DTYPE_FLOAT32) return { status: "corrupt", reason: `unknown dtype ${buf.readUInt8(14)}` };
  if (buf.readUInt8(15) !== LITTLE_ENDIAN) return { status: "corrupt", reason: "unknown byte order" };
  const idBytes = buf.readUInt16LE(28);
  if (32 + idBytes > length - 4) return { status: "corrupt", reason: "model id overruns the header" };
  return {
    status: "ok",
    header: {
      modelId: buf.toString("utf8", 32, 32 + idBytes),
      dimension: buf.readUInt32LE(16),
      dtype: "float32",
      fileId: buf.toString("hex", 20, 28),
      length,
      crc: buf.readUInt32LE(length - 4),
    },
  };
}

/** The refs file names the log it mirrors by the log's fileId, model and dimension. */
export const encodeRefsHeader = (modelId: string, dimension: number, logFileId: string): Buffer =>
  encodeLogHeader(modelId, dimension, logFileId, REFS_MAGIC, newStamp());
export const decodeRefsHeader = (buf: Buffer): HeaderRead<LogHeader> => decodeLogHeader(buf, REFS_MAGIC);

export function encodeGraphHeader(floor: number, logFileId: string): Buffer {
  const buf = Buffer.alloc(32);
  buf.write(GRAPH_MAGIC, 0, "latin1");
  buf.writeUInt32LE(32, 8);
  buf.writeUInt16LE(FORMAT_VERSION, 12);
  buf.writeUInt16LE(newStamp(), 14);
  buf.writeFloatLE(floor, 16);
  buf.write(logFileId, 20, "hex");
  buf.writeUInt32LE(crc32(buf.subarray(0, 28)), 28);
  return buf;
}

export function decodeGraphHeader(buf: Buffer): HeaderRead<GraphHeader> {
  const fixed = checkFixed(buf, GRAPH_MAGIC, 32);
  if (fixed.status !== "ok") return fixed;
  return {
    status: "ok",
    header: { floor: buf.readFloatLE(16), logFileId: buf.toString("hex", 20, 28), length: fixed.header, crc: buf.readUInt32LE(28) },
  };
}

/** Magic, length, version and checksum common to both headers; yields the header length. */
function checkFixed(buf: Buffer, magic: string, minLength: number): HeaderRead<number> {
  if (buf.length < 12)
    return buf.length === 0 || magic.startsWith(buf.toString("latin1", 0, Math.min(8, buf.length)))
      ? { status: "truncated" }
      : { status: "corrupt", reason: "bad magic" };
  if (buf.toString("latin1", 0, 8) !== magic) return { status: "corrupt", reason: "bad magic" };
  const length = buf.readUInt32LE(8);
  if (length < minLength || length > 4096) return { status: "corrupt", reason: `header length ${length}` };
  if (buf.length < length) return { status: "truncated" };
  if (crc32(buf.subarray(0, length - 4)) !== buf.readUInt32LE(length - 4)) return { status: "corrupt", reason: "header checksum" };
  const version = buf.readUInt16LE(12);
  if (version !== FORMAT_VERSION) return { status: "corrupt", reason: `format version ${version}, this code reads ${FORMAT_VERSION}` };
  return { status: "ok", header: length };
}
