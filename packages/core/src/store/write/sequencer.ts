/**
 * S3 event sequencers: hex strings, comparable only for the same key. S3 says to compare them as
 * hex numbers of possibly different lengths, so the shorter one is left-padded with zeros first.
 */
import { InvalidParameterError } from "../../errors.ts";

const HEX = /^[0-9A-Fa-f]{1,64}$/;

/** Upper-case form, rejected unless 1..64 hex digits. */
export function normaliseSequencer(sequencer: string): string {
  if (typeof sequencer !== "string" || !HEX.test(sequencer)) {
    throw new InvalidParameterError(`sequencer ${JSON.stringify(sequencer)} is not 1 to 64 hex digits`);
  }
  return sequencer.toUpperCase();
}

/** Negative if a is older than b, 0 if equal, positive if newer. Inputs already normalised. */
export function compareSequencers(a: string, b: string): number {
  const width = Math.max(a.length, b.length);
  const pa = a.padStart(width, "0");
  const pb = b.padStart(width, "0");
  return pa < pb ? -1 : pa > pb ? 1 : 0;
}
