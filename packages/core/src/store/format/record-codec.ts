/**
 * One record of the embedding log, inside a frame (see frame.ts). Payload, little-endian:
 *   u8 kind (1 put, 2 delete) | u8 0 | u16 keyLen | u16 imageIdLen | u16 etagLen | u16 seqLen | u16 0
 *   | u32 dimension (0 for delete) | key, imageId, etag, sequencer (UTF-8) | zero pad to 4 | f32 × dimension
 * Vectors start 4-aligned within the payload so a reader can copy them as whole floats.
 */
import { allocFrame, FRAME_HEADER_BYTES, sealFrame } from "./frame.ts";
import type { DeleteEvent, PutEvent } from "../types.ts";

/** What the log holds is the event itself, less the model (the file's header names it). */
export type PutRecord = Omit<PutEvent, "model">;
export type DeleteRecord = DeleteEvent;
export type LogRecord = PutRecord | DeleteRecord;

/** A decoded record whose vector stays in the source buffer at `vectorOffset` (bytes). */
export interface RecordView {
  kind: "put" | "delete";
  key: string;
  imageId: string;
  etag: string;
  sequencer: string;
  dimension: number;
  vectorOffset: number;
}

/** Bytes of a record's payload before its text: kind, four text lengths, dimension. */
const FIXED = 16;
/** A record's kind byte, in the log and in the refs file alike. */
export const KIND_PUT = 1;
export const KIND_DELETE = 2;
/** S3 keys are at most 1024 bytes; etags and sequencers are far shorter. */
export const MAX_FIELD_BYTES = 1024;

const pad4 = (n: number) => (n + 3) & ~3;
const isLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Encodes a record as one complete frame; returns it with its frame checksum. */
export function encodeRecord(record: LogRecord): { frame: Buffer; crc: number } {
  const etag = record.kind === "put" ? record.etag : "";
  const fields = [record.key, record.imageId, etag, record.sequencer];
  const lengths = fields.map((f) => Buffer.byteLength(f, "utf8"));
  for (const n of lengths) if (n > MAX_FIELD_BYTES) throw new RangeError(`record field of ${n} bytes exceeds ${MAX_FIELD_BYTES}`);
  const dimension = record.kind === "put" ? record.vector.length : 0;
  const textEnd = FIXED + lengths.reduce((a, b) => a + b, 0);
  const vectorStart = pad4(textEnd);
  const frame = allocFrame(vectorStart + dimension * 4);
  const p = FRAME_HEADER_BYTES;
  frame.writeUInt8(record.kind === "put" ? KIND_PUT : KIND_DELETE, p);
  for (let i = 0; i < 4; i++) frame.writeUInt16LE(lengths[i], p + 2 + 2 * i);
  frame.writeUInt32LE(dimension, p + 12);
  let at = p + FIXED;
  for (let i = 0; i < 4; i++) at += frame.write(fields[i], at, "utf8");
  if (record.kind === "put") {
    const bytes = new Uint8Array(record.vector.buffer, record.vector.byteOffset, dimension * 4);
    if (isLittleEndian) frame.set(bytes, p + vectorStart);
    else for (let k = 0; k < dimension; k++) frame.writeFloatLE(record.vector[k], p + vectorStart + 4 * k);
  }
  return { frame, crc: sealFrame(frame) };
}

/** Decodes a payload that passed its checksum; null when its layout is inconsistent. */
export function decodeRecord(buf: Buffer, start: number, end: number): RecordView | null {
  if (end - start < FIXED) return null;
  const kindByte = buf.readUInt8(start);
  if (kindByte !== KIND_PUT && kindByte !== KIND_DELETE) return null;
  const keyLen = buf.readUInt16LE(start + 2);
  const idLen = buf.readUInt16LE(start + 4);
  const etagLen = buf.readUInt16LE(start + 6);
  const seqLen = buf.readUInt16LE(start + 8);
  const dimension = buf.readUInt32LE(start + 12);
  const textEnd = start + FIXED + keyLen + idLen + etagLen + seqLen;
  const vectorOffset = start + pad4(textEnd - start);
  if (vectorOffset + dimension * 4 !== end) return null;
  if (kindByte === KIND_DELETE && (dimension !== 0 || etagLen !== 0)) return null;
  const idAt = start + FIXED + keyLen;
  const etagAt = idAt + idLen;
  const seqAt = etagAt + etagLen;
  const text = [
    buf.toString("utf8", start + FIXED, idAt),
    buf.toString("utf8", idAt, etagAt),
    buf.toString("utf8", etagAt, seqAt),
    buf.toString("utf8", seqAt, seqAt + seqLen),
  ];
  return {
    kind: kindByte === KIND_PUT ? "put" : "delete",
    key: text[0],
    imageId: text[1],
    etag: text[2],
    sequencer: text[3],
    dimension,
    vectorOffset,
  };
}

/** Copies the vector of a decoded put into `out` at row `row` (out is n×dimension row-major). */
export function copyVector(buf: Buffer, view: RecordView, out: Float32Array, row: number): void {
  const d = view.dimension;
  if (isLittleEndian) {
    new Uint8Array(out.buffer, out.byteOffset + row * d * 4, d * 4).set(buf.subarray(view.vectorOffset, view.vectorOffset + d * 4));
  } else {
    for (let k = 0; k < d; k++) out[row * d + k] = buf.readFloatLE(view.vectorOffset + 4 * k);
  }
}
