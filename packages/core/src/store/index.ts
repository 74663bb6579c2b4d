/** Per-user embedding store: an append-only log of framed records plus a derived neighbour graph. */
export { openStore } from "./embedding-store.ts";
export type {
  CompactResult,
  DeleteEvent,
  EmbeddingStore,
  EventResult,
  FailureRecord,
  ImageRef,
  MigrateResult,
  Nearest,
  NeighbourGraph,
  Outcome,
  PutEvent,
  Snapshot,
  StoreEvent,
  StoreLogger,
  StoreOptions,
  UserView,
  WriteResult,
} from "./types.ts";
export { compareSequencers, normaliseSequencer } from "./write/sequencer.ts";
export { userPaths, type UserPaths } from "./store-paths.ts";
export { crc32 } from "./format/crc32.ts";
export { viewOfSnapshot } from "./read/snapshot.ts";
