/**
 * A writer's in-memory view of one user's log: the latest state of every key, and the vectors of
 * live images packed densely in one row-major matrix (rows in no particular order; `slotOrdinal`
 * says which log record each row came from). Built once from the log, then kept in step with every
 * record appended, so an append costs O(n·d) for the graph rather than a re-read of the file.
 */
import { KernelMatrix } from "../similarity/dot.ts";
import type { RecordView } from "./record-codec.ts";
import { copyVector } from "./record-codec.ts";

export interface KeyState {
  live: boolean;
  imageId: string;
  etag: string;
  sequencer: string;
  /** Ordinal of the latest record for this key. */
  ordinal: number;
  /** Matrix row when live, else -1. */
  slot: number;
}

export interface AppliedRecord {
  kind: "put" | "delete";
  key: string;
  imageId: string;
  etag: string;
  sequencer: string;
}

export class LiveSet {
  readonly keys = new Map<string, KeyState>();
  /** The live rows, in a WASM kernel's memory (see KernelMatrix). */
  private readonly rows: KernelMatrix;
  slotOrdinal: Int32Array;
  readonly slotKey: string[] = [];
  /** Live rows. */
  n = 0;
  /** Records in the log, and how many of them a later record for the same key superseded. */
  recordCount = 0;
  dead = 0;
  crcs: Uint32Array;

  constructor(
    readonly dimension: number,
    capacity = 64,
  ) {
    this.rows = new KernelMatrix(dimension, capacity);
    this.slotOrdinal = new Int32Array(capacity);
    this.crcs = new Uint32Array(Math.max(capacity, 64));
  }

  static fromLog(buf: Buffer, records: RecordView[], crcs: Uint32Array, dimension: number): LiveSet {
    const set = new LiveSet(dimension, Math.max(64, records.length));
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      const slot = set.apply(r, crcs[i]);
      if (slot >= 0) copyVector(buf, r, set.matrix, slot);
    }
    return set;
  }

  /**
   * Applies the record appended at ordinal `recordCount`. Returns the matrix row reserved for a put
   * (the caller fills it), or -1 for a delete.
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

  /** The row-major matrix of live rows (slot·dimension): a view, valid until the next put. */
  get matrix(): Float32Array {
    return this.rows.rows;
  }

  /** out[s] = similarity of row `slot` to row s, for every live row s; as dotF32 computes it. */
  scoresOf(slot: number, out: Float32Array): Float32Array {
    return this.rows.dotRowAgainstAll(slot, this.n, out);
  }

  row(slot: number): Float32Array {
    return this.matrix.subarray(slot * this.dimension, (slot + 1) * this.dimension);
  }

  private takeSlot(key: string, ordinal: number): number {
    const slot = this.n++;
    if (slot === this.slotOrdinal.length) {
      const capacity = slot * 2;
      this.slotOrdinal = grow(this.slotOrdinal, capacity);
      this.rows.ensureRows(capacity);
    }
    this.slotOrdinal[slot] = ordinal;
    this.slotKey[slot] = key;
    return slot;
  }

  /** Moves the last row into the freed one so the live rows stay dense. */
  private freeSlot(slot: number): void {
    const last = --this.n;
    if (slot !== last) {
      const d = this.dimension;
      this.matrix.copyWithin(slot * d, last * d, (last + 1) * d);
      this.slotOrdinal[slot] = this.slotOrdinal[last];
      const movedKey = this.slotKey[last];
      this.slotKey[slot] = movedKey;
      this.keys.get(movedKey)!.slot = slot;
    }
    this.slotKey.length = last;
  }
}

/** A copy of a typed array with room for `capacity` elements. */
export function grow<T extends Uint8Array | Uint16Array | Int32Array | Uint32Array>(arr: T, capacity: number): T {
  const next = new (arr.constructor as new (n: number) => T)(capacity);
  next.set(arr);
  return next;
}
