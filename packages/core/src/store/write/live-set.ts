/**
 * A writer's in-memory view of one user's log: the latest state of every key, and each live image's
 * row: where its float32 vector lies in the log, and its compact int8 form (compact-rows.ts) that the
 * writer screens new photos against. Rows are dense, in no particular order (`slotOrdinal` says which
 * log record each came from). Built once from the log, read in bounded chunks, then kept in step with
 * every record appended, so an append costs a screen of n int8 rows and a few exact re-scores rather
 * than a re-read of the file, and the memory a photo takes is a quarter of its float32 vector.
 *
 * A user whose compact rows would not fit the writer's memory budget gets a LiveSet without rows
 * (`compact: false`): keys only, and new photos are scored against the log streamed from disk.
 */
import { CompactRows } from "./compact-rows.ts";

export interface KeyState {
  live: boolean;
  imageId: string;
  etag: string;
  sequencer: string;
  /** Ordinal of the latest record for this key. */
  ordinal: number;
  /** Row when live, else -1. */
  slot: number;
}

export interface AppliedRecord {
  kind: "put" | "delete";
  key: string;
  imageId: string;
  etag: string;
  sequencer: string;
}

/** What a key's state and its strings take in V8, roughly: for the memory budget, not exact. */
const KEY_BYTES = 320;

export class LiveSet {
  readonly keys = new Map<string, KeyState>();
  /** The compact rows, or null for a user scored against the log on disk. */
  readonly rows: CompactRows | null;
  slotOrdinal: Int32Array;
  /** Byte offset in the log of each row's float32 vector. */
  slotOffset: Float64Array;
  readonly slotKey: string[] = [];
  /** Live rows. */
  n = 0;
  /** Records in the log, and how many of them a later record for the same key superseded. */
  recordCount = 0;
  dead = 0;
  crcs: Uint32Array;

  constructor(
    readonly dimension: number,
    options: { capacity?: number; compact?: boolean } = {},
  ) {
    const capacity = Math.max(4, options.capacity ?? 64);
    this.rows = options.compact === false ? null : new CompactRows(dimension, capacity);
    this.slotOrdinal = new Int32Array(capacity);
    this.slotOffset = new Float64Array(capacity);
    this.crcs = new Uint32Array(Math.max(capacity, 64));
  }

  /** What a LiveSet of `rows` live photos with compact rows takes, about. */
  static bytesFor(dimension: number, rows: number): number {
    return CompactRows.bytesFor(dimension, rows) + rows * (16 + KEY_BYTES);
  }

  /** Memory this view holds, about: what the writer's budget counts. */
  get bytes(): number {
    return (this.rows?.bytes ?? 0) + this.slotOrdinal.length * 12 + this.crcs.length * 4 + this.keys.size * KEY_BYTES;
  }

  /**
   * Applies the record appended at ordinal `recordCount`. Returns the row reserved for a put (the
   * caller fills it with setRow), or -1 for a delete.
   */
  apply(record: AppliedRecord, crc: number): number {
    const ordinal = this.recordCount++;
    if (ordinal === this.crcs.length) this.crcs = grow(this.crcs, ordinal * 2);
    this.crcs[ordinal] = crc;
    const previous = this.keys.get(record.key);
    if (previous) {
      this.dead++;
      if (previous.slot >= 0) this.freeSlot(previous.slot);
    }
    const slot = record.kind === "put" ? this.takeSlot(record.key, ordinal) : -1;
    this.keys.set(record.key, {
      live: record.kind === "put",
      imageId: record.imageId,
      etag: record.etag,
      sequencer: record.sequencer,
      ordinal,
      slot,
    });
    return slot;
  }

  /** Row `slot`: its vector (d values of `values` from `at`) and where that vector lies in the log. */
  setRow(slot: number, values: Float32Array, at: number, logOffset: number): void {
    this.rows?.set(slot, values, at);
    this.slotOffset[slot] = logOffset;
  }

  private takeSlot(key: string, ordinal: number): number {
    const slot = this.n++;
    if (slot === this.slotOrdinal.length) {
      const capacity = slot * 2;
      this.slotOrdinal = grow(this.slotOrdinal, capacity);
      this.slotOffset = grow(this.slotOffset, capacity);
    }
    this.rows?.ensureRows(slot + 1);
    this.slotOrdinal[slot] = ordinal;
    this.slotKey[slot] = key;
    return slot;
  }

  /** Moves the last row into the freed one so the live rows stay dense. */
  private freeSlot(slot: number): void {
    const last = --this.n;
    if (slot !== last) {
      this.rows?.move(last, slot);
      this.slotOrdinal[slot] = this.slotOrdinal[last];
      this.slotOffset[slot] = this.slotOffset[last];
      const movedKey = this.slotKey[last];
      this.slotKey[slot] = movedKey;
      this.keys.get(movedKey)!.slot = slot;
    }
    this.slotKey.length = last;
  }
}

/** A copy of a typed array with room for `capacity` elements. */
export function grow<T extends Uint8Array | Uint16Array | Int32Array | Uint32Array | Float64Array>(arr: T, capacity: number): T {
  const next = new (arr.constructor as new (n: number) => T)(capacity);
  next.set(arr);
  return next;
}
