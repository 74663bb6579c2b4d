import { stat } from "node:fs/promises";
import { type EmbeddingStore, type Snapshot, userPaths } from "@photo-clusters/core/store/index";

/**
 * A warm API container answers the same user many times between that user's uploads. Reading the
 * log costs ~30 ms at 2,000 photos (10 MB of vectors); two stat calls cost microseconds. A snapshot is
 * reused while both files keep their inode, size and mtime (an append changes size, a compaction
 * the inode), so an answer is never staler than the files.
 *
 * Bounded by memory, not only by users: at 2048 dimensions a 5,000-photo library holds 41 MB of
 * vectors. Least recently used snapshots go first; the one just read is always kept.
 */
export function cachedReader(store: EmbeddingStore, root: string, limits: { maxUsers?: number; maxBytes?: number } = {}): (userId: string) => Promise<Snapshot> {
  const { maxUsers = 32, maxBytes = 256 * 1024 * 1024 } = limits;
  const cache = new Map<string, { version: string; snapshot: Snapshot; bytes: number }>();
  let cachedBytes = 0;
  const version = async (userId: string) => {
    const { log, graph } = userPaths(root, userId, store.model.id);
    const parts = await Promise.all([log, graph].map((p) => stat(p).then((s) => `${s.ino}:${s.size}:${s.mtimeMs}`, () => "-")));
    return parts.join("|");
  };
  return async (userId) => {
    const before = await version(userId);
    const hit = cache.get(userId);
    if (hit && hit.version === before) {
      cache.delete(userId);
      cache.set(userId, hit); // most recently used last
      return hit.snapshot;
    }
    const snapshot = await store.read(userId);
    // Looked up again: a concurrent request may have replaced the entry while this one read.
    const replaced = cache.get(userId);
    if (replaced) cachedBytes -= replaced.bytes;
    cache.delete(userId);
    const bytes = snapshotBytes(snapshot);
    cache.set(userId, { version: before, snapshot, bytes });
    cachedBytes += bytes;
    for (const [oldest, entry] of cache) {
      if (oldest === userId || (cache.size <= maxUsers && cachedBytes <= maxBytes)) break;
      cache.delete(oldest);
      cachedBytes -= entry.bytes;
    }
    return snapshot;
  };
}

/** What a snapshot holds in memory, near enough: vectors, graph edges (12 bytes each), image refs. */
export function snapshotBytes(s: Snapshot): number {
  return s.vectors.byteLength + (s.graph ? s.graph.edges.a.length * 12 : 0) + s.images.length * 200;
}
