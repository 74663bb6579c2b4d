/**
 * Checks one event before the lock is taken and puts it in stored form (upper-case sequencer,
 * L2-normalised copy of the vector). A bad event fails alone; the rest of its batch goes on.
 */
import { CoreError, InvalidKeyError, InvalidParameterError, InvalidVectorError, ModelMismatchError } from "../../errors.ts";
import { isPhotoFacts, knownFacts } from "../../facts/photo-facts.ts";
import type { ModelDescriptor } from "../../models.ts";
import { assertImageId } from "../ids.ts";
import { MAX_FIELD_BYTES } from "../format/record-codec.ts";
import { normaliseSequencer } from "./sequencer.ts";
import type { StoreEvent } from "../types.ts";

export type Prepared = { ok: true; event: StoreEvent } | { ok: false; error: CoreError };

export function prepareEvent(event: StoreEvent, model: ModelDescriptor): Prepared {
  try {
    return { ok: true, event: prepare(event, model) };
  } catch (err) {
    if (err instanceof CoreError) return { ok: false, error: err };
    throw err;
  }
}

function prepare(event: StoreEvent, model: ModelDescriptor): StoreEvent {
  if (event?.kind !== "put" && event?.kind !== "delete") {
    throw new InvalidParameterError(`event kind ${JSON.stringify((event as { kind?: unknown })?.kind)} is neither "put" nor "delete"`);
  }
  if (typeof event.key !== "string" || event.key.length === 0 || Buffer.byteLength(event.key) > MAX_FIELD_BYTES) {
    throw new InvalidKeyError(`object key must be 1 to ${MAX_FIELD_BYTES} bytes`);
  }
  assertImageId(event.imageId);
  const sequencer = normaliseSequencer(event.sequencer);
  if (event.kind === "delete") return { kind: "delete", key: event.key, imageId: event.imageId, sequencer };
  if (typeof event.etag !== "string" || event.etag.length === 0 || Buffer.byteLength(event.etag) > MAX_FIELD_BYTES) {
    throw new InvalidParameterError(`etag of ${event.key} must be 1 to ${MAX_FIELD_BYTES} bytes`);
  }
  if (event.model !== undefined && event.model !== model.id) {
    throw new ModelMismatchError(`vector of ${event.key} comes from model "${event.model}" but this store holds model "${model.id}"`);
  }
  const { vector } = event;
  if (!(vector instanceof Float32Array) || vector.length !== model.dimension) {
    const got = vector instanceof Float32Array ? `${vector.length}-d Float32Array` : "not a Float32Array";
    throw new ModelMismatchError(`vector of ${event.key} is ${got} but model "${model.id}" stores ${model.dimension}-d vectors`);
  }
  // Facts of another shape are dropped, never the photo: they are a description, not the record.
  const { facts, ...rest } = event;
  return { ...rest, sequencer, vector: normalise(vector, event.key), ...(isPhotoFacts(facts) ? { facts: knownFacts(facts) } : {}) };
}

/** A normalised copy; zero or non-finite vectors have no direction and are refused (never NaN). */
export function normalise(vector: Float32Array, label: string): Float32Array {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i] * vector[i];
  if (!Number.isFinite(sum)) throw new InvalidVectorError(`vector of ${label} holds non-finite values`);
  if (sum === 0) throw new InvalidVectorError(`vector of ${label} is all zeros and cannot be normalised`);
  const scale = 1 / Math.sqrt(sum);
  const out = new Float32Array(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = vector[i] * scale;
  return out;
}
