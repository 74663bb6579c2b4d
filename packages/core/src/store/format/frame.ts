/**
 * Framing shared by the embedding log and the graph file:
 *   u32 payloadLength | u32 crc32(length bytes ‖ payload) | payload
 * The checksum covers the length too, so a torn or corrupted length is caught like a torn payload.
 * All integers are little-endian.
 */
import { crc32 } from "./crc32.ts";

export const FRAME_HEADER_BYTES = 8;
/** No record comes near this; a larger length is corruption, not a record still being written. */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

export type FrameRead =
  | { status: "ok"; payloadStart: number; payloadEnd: number; next: number; crc: number }
  | { status: "end" }
  /** The bytes stop inside the frame: a write in progress or a crash mid-append. */
  | { status: "truncated" }
  /** Length out of range or checksum mismatch. */
  | { status: "corrupt" };

/** A buffer with room for the frame header before a payload of `payloadBytes`. */
export function allocFrame(payloadBytes: number): Buffer {
  return Buffer.alloc(FRAME_HEADER_BYTES + payloadBytes);
}

/** Fills in the length and checksum of a buffer made by `allocFrame`; returns the crc. */
export function sealFrame(frame: Buffer): number {
  const length = frame.length - FRAME_HEADER_BYTES;
  frame.writeUInt32LE(length, 0);
  const crc = crc32(frame.subarray(FRAME_HEADER_BYTES), crc32(frame.subarray(0, 4)));
  frame.writeUInt32LE(crc, 4);
  return crc;
}

export function readFrame(buf: Buffer, offset: number): FrameRead {
  if (offset === buf.length) return { status: "end" };
  if (offset + FRAME_HEADER_BYTES > buf.length) return { status: "truncated" };
  const length = buf.readUInt32LE(offset);
  if (length > MAX_PAYLOAD_BYTES) return { status: "corrupt" };
  const payloadStart = offset + FRAME_HEADER_BYTES;
  const payloadEnd = payloadStart + length;
  if (payloadEnd > buf.length) return { status: "truncated" };
  const stored = buf.readUInt32LE(offset + 4);
  const crc = crc32(buf.subarray(payloadStart, payloadEnd), crc32(buf.subarray(offset, offset + 4)));
  if (crc !== stored) return { status: "corrupt" };
  return { status: "ok", payloadStart, payloadEnd, next: payloadEnd, crc };
}
