import type { PhotoFacts } from "../facts/photo-facts.ts";

/**
 * What the poller sends the writer (a synchronous Lambda invoke in AWS, a direct call locally):
 * JSON with vectors as base64 float32, a quarter of the size of number arrays.
 */
export type WriteEventWire =
  | {
      id: string;
      userId: string;
      kind: "put";
      key: string;
      imageId: string;
      etag: string;
      sequencer: string;
      model: string;
      vector: string;
      facts?: PhotoFacts;
    }
  | { id: string; userId: string; kind: "delete"; key: string; imageId: string; sequencer: string; model: string }
  /** A photo that finally failed, for the user's status (see the store's failures.ts). */
  | { id: string; userId: string; kind: "failure"; key: string; sequencer: string; imageId: string; code: string; message: string; at: string }
  /** The key is settled without a write (a delete of a key that was never a photo): its failure record goes. */
  | { id: string; userId: string; kind: "forget"; key: string; sequencer: string };

export interface WritePayload {
  events: WriteEventWire[];
}

export type WriteReply = { id: string; ok: true; outcome: string } | { id: string; ok: false; code: string; message: string; retryable: boolean };

export interface WriteResponse {
  results: WriteReply[];
}

export function encodeVector(vector: Float32Array): string {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString("base64");
}

export function decodeVector(base64: string): Float32Array {
  const bytes = Buffer.from(base64, "base64");
  if (bytes.length % 4 !== 0) throw new RangeError("vector payload is not a whole number of float32 values");
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}
