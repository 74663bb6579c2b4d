/**
 * What one event does to a key, given the key's latest state. The log only ever receives records that
 * win, so "the last record for a key" is its state and readers need none of these rules.
 *
 * - put of an unknown key: stored. Same etag as the live image: duplicate (a newer sequencer is still
 *   written, so the key remembers the newest event; the image is unchanged).
 * - newer sequencer: replaces (or revives a deleted key); older: stale, never wins.
 * - equal sequencers (S3 never sends this for one key; another producer might): a delete beats a put,
 *   and between two puts the greater etag (string order) wins, so every replica converges.
 * - delete of an unknown or already deleted key: absent, but a tombstone with the newest sequencer
 *   is written so an older put arriving late cannot bring the image back.
 */
import { compareSequencers } from "./sequencer.ts";
import type { KeyState } from "./live-set.ts";
import type { Outcome } from "../types.ts";

export interface Decision {
  outcome: Outcome;
  /** Whether a record must be appended. */
  write: boolean;
}

export function decidePut(current: KeyState | undefined, etag: string, sequencer: string): Decision {
  if (!current) return { outcome: "stored", write: true };
  const order = compareSequencers(sequencer, current.sequencer);
  if (current.live && current.etag === etag) return { outcome: "duplicate", write: order > 0 };
  if (order > 0) return { outcome: current.live ? "replaced" : "stored", write: true };
  if (order < 0 || !current.live) return { outcome: "stale", write: false };
  return etag > current.etag ? { outcome: "replaced", write: true } : { outcome: "stale", write: false };
}

export function decideDelete(current: KeyState | undefined, sequencer: string): Decision {
  if (!current) return { outcome: "absent", write: true };
  const order = compareSequencers(sequencer, current.sequencer);
  if (!current.live) return { outcome: "absent", write: order > 0 };
  if (order >= 0) return { outcome: "deleted", write: true };
  return { outcome: "stale", write: false };
}
