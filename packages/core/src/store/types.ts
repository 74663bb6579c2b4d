/** Public shapes of the embedding store. */
import type { CoreError } from "../errors.ts";
import type { PhotoFacts } from "../facts/photo-facts.ts";
import type { Metrics } from "../metrics.ts";
import type { ModelDescriptor } from "../models.ts";

/** What a write did with one event. */
export type Outcome = "stored" | "replaced" | "duplicate" | "stale" | "deleted" | "absent";

/**
 * The neighbour graph: every pair of live images whose similarity (dot product of normalised
 * vectors, as dotF32 computes it) is at least the model's floor.
 */
export interface NeighbourGraph {
  floor: number;
  /** Parallel arrays; a, b index the snapshot's `images`, a < b; s is the similarity. */
  edges: { a: Uint32Array; b: Uint32Array; s: Float32Array };
}

/** A photo that finally failed (see failures.ts). */
export interface FailureRecord {
  key: string;
  /** S3's sequencer of the failed event: a later store or delete of the key (a greater one) settles it. */
  sequencer: string;
  imageId: string;
  /** Why: `not_an_image`, `invalid_image`, `empty_object`, `too_large`, `rejected_by_model`, `invalid_key`, … */
  code: string;
  message: string;
  /** ISO 8601 time of the attempt that failed. */
  at: string;
}

/** A key's later event, which settles its failure records. */
export interface Settled {
  key: string;
  sequencer: string;
}

export interface PutEvent {
  kind: "put";
  /** The S3 object key; the identity of an image in the store. */
  key: string;
  imageId: string;
  etag: string;
  /** S3's hex sequencer of the event. */
  sequencer: string;
  /** Any scale; stored L2-normalised. */
  vector: Float32Array;
  /** Model that produced the vector; when given it must equal the store's. */
  model?: string;
  /** What the poller learnt of the photo (kept in the facts file, not the log). */
  facts?: PhotoFacts;
}

export interface DeleteEvent {
  kind: "delete";
  key: string;
  imageId: string;
  sequencer: string;
}

export type StoreEvent = PutEvent | DeleteEvent;

export type EventResult =
  | { key: string; outcome: Outcome }
  /** This event only failed; the others of the batch were still written. */
  | { key: string; outcome: "error"; error: CoreError };

export interface WriteResult {
  userId: string;
  /** One per event, in the order given. */
  results: EventResult[];
  /** Records appended to the log by this batch. */
  appended: number;
  compacted: boolean;
}

export interface ImageRef {
  imageId: string;
  key: string;
  etag: string;
}

export interface Snapshot {
  userId: string;
  model: string;
  dimension: number;
  /** Live images, in the order their current record was written (compaction keeps this order). */
  images: ImageRef[];
  /** n×dimension row-major, L2-normalised, row i belongs to images[i]. */
  vectors: Float32Array;
  /** Null when the stored graph does not cover the log (the caller computes exactly instead). */
  graph: NeighbourGraph | null;
  /** The facts stored with images[row]'s record (null without); absent: none known. */
  facts?: (row: number) => PhotoFacts | null;
}

/**
 * What a cluster answer needs of one user, by row: one row per log record, in log order. A row is an
 * image unless a later record replaced or deleted it (`live` is false). From the refs and graph files
 * (`readView`) it holds no vectors; from a full read it holds them, and every row is live.
 */
export interface UserView {
  userId: string;
  model: string;
  dimension: number;
  rows: number;
  /** Live rows. */
  imageCount: number;
  live(row: number): boolean;
  imageId(row: number): string;
  key(row: number): string;
  /** The row of a live image, or -1. */
  rowOf(imageId: string): number;
  /** Two rows' image ids in UTF-8 byte order (code point order), as compareIds in keys.ts. */
  compareIds(x: number, y: number): number;
  /** Every pair of live rows at or above the floor; null when the graph does not cover every row. */
  graph: NeighbourGraph | null;
  /** rows×dimension, L2-normalised, when the view came from a full read; otherwise null. */
  vectors: Float32Array | null;
  /** The facts stored with a live row's record; null when it was stored without (see facts-file.ts). */
  facts(row: number): PhotoFacts | null;
  /** Memory the view holds, near enough. */
  readonly bytes: number;
}

/** A row of a view and its raw cosine to another (as dotF32 gives it: the graph's values). */
export interface Nearest {
  row: number;
  cosine: number;
}

export interface CompactResult {
  userId: string;
  recordsBefore: number;
  recordsAfter: number;
  bytesBefore: number;
  bytesAfter: number;
}

export interface MigrateResult {
  userId: string;
  /** Whether the user's refs file was written by this call (files of format 1 have none). */
  upgraded: boolean;
  records: number;
}

export interface StoreLogger {
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
}

export interface StoreOptions {
  /** Directory holding one folder per user (an EFS mount in AWS). */
  root: string;
  model: ModelDescriptor;
  /** Longest a write waits for another writer's lock before LockTimeoutError. Default 10 000. */
  lockWaitMs?: number;
  /** A lock not refreshed for this long is taken over (the holder crashed). Min 2000, default 5000. */
  lockStaleMs?: number;
  logger?: StoreLogger | Pick<Console, "warn" | "error" | "debug">;
  /** Automatic compaction after a write: when superseded records are >= minDead and > ratio of all. */
  compaction?: { minDead?: number; ratio?: number };
  /** fdatasync the log after each batch (default true). */
  sync?: boolean;
  /** LockWait, GraphCatchUps, Compactions and StreamedWrites are recorded here; whoever owns it flushes. */
  metrics?: Metrics;
  /**
   * Bytes the writer's cached LiveSets may take together (least recently written users go first), and
   * one user's at most: a user whose compact rows would not fit is scored against its log on disk.
   * Default 256 MB; the writer Lambda passes a share of its memory.
   */
  memoryBudgetBytes?: number;
}

export interface EmbeddingStore {
  readonly model: ModelDescriptor;
  write(userId: string, events: readonly StoreEvent[]): Promise<WriteResult>;
  /** Everything, vectors included: O(the whole log). For the exact path and tools. */
  read(userId: string): Promise<Snapshot>;
  /**
   * What a graph answer needs, without vectors when the files allow (see graph-view.ts). Given the
   * view this returned before, it reads only what the files grew by, and may return that view updated.
   */
  readView(userId: string, previous?: UserView): Promise<UserView>;
  /**
   * The `limit` live photos most similar to one, best first (ties by row), with the view their rows
   * index: `similar` beyond what the graph holds, in bounded memory (a scan of the log in chunks, see
   * log-nearest.ts). Given the view the caller holds, it reads only what the files grew by. Undefined
   * for an image the user does not have.
   */
  nearest(userId: string, imageId: string, limit: number, previous?: UserView): Promise<{ view: UserView; neighbours: Nearest[] } | undefined>;
  /**
   * Records photos that finally failed (see failures.ts), less those whose key this store already
   * holds at the failed event's sequencer or a later one; a key's record goes when it is stored or deleted.
   */
  recordFailures(userId: string, failures: readonly FailureRecord[]): Promise<void>;
  /** Drops the failure records these keys' later events settle (a delete of a key that was never a photo). */
  forgetFailures(userId: string, settled: readonly Settled[]): Promise<void>;
  /** The user's failed photos, newest first. */
  failures(userId: string): Promise<FailureRecord[]>;
  /** Brings one user's files to the current format (what the next write would do); see maintenance.ts. */
  migrate(userId: string): Promise<MigrateResult>;
  compact(userId: string): Promise<CompactResult>;
  rebuildGraph(userId: string): Promise<{ userId: string; edges: number }>;
  listUsers(): Promise<string[]>;
}
