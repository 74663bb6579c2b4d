import { type EmbeddingStore, type Metrics, noMetrics, type UserView, viewOfSnapshot } from "@photo-clusters/core";

/**
 * A warm API container answers the same user many times, while that user's uploads land. Each
 * request hands the store the view it read last time: the store checks two file sizes and reads only
 * what was appended since (or everything, after a compaction), so an answer is never staler than the
 * files and a request after a write costs what the write added.
 *
 * Bounded by memory, not only by users: a graph view costs about 15 bytes a photo plus its key and
 * id, and 12 bytes an edge. Least recently used views go first; the one just read is always kept.
 * A view read with its vectors (the exact path, `similar` below the graph's floor, or a user whose
 * files predate the refs file) is not kept.
 * ViewCacheHits counts reads that started from a kept view, ViewCacheMisses those that read all.
 */
export function cachedReader(
  store: EmbeddingStore,
  limits: { maxUsers?: number; maxBytes?: number } = {},
  metrics: Metrics = noMetrics,
): (userId: string, need?: "vectors") => Promise<UserView> {
  const { maxUsers = 256, maxBytes = 256 * 1024 * 1024 } = limits;
  const cache = new Map<string, { view: UserView; bytes: number }>();
  const pending = new Map<string, Promise<UserView>>();
  let cachedBytes = 0;

  async function refresh(userId: string): Promise<UserView> {
    const hit = cache.get(userId);
    metrics.count(hit ? "ViewCacheHits" : "ViewCacheMisses");
    const view = await store.readView(userId, hit?.view);
    // Looked up again: the entry may have been evicted while this one read.
    const entry = cache.get(userId);
    if (entry) cachedBytes -= entry.bytes;
    cache.delete(userId); // re-added last: most recently used
    // A full read (files of format 1, until they are upgraded) holds the vectors: too big to keep.
    if (view.vectors) return view;
    const bytes = view.bytes;
    cache.set(userId, { view, bytes });
    cachedBytes += bytes;
    for (const [oldest, old] of cache) {
      if (oldest === userId || (cache.size <= maxUsers && cachedBytes <= maxBytes)) break;
      cache.delete(oldest);
      cachedBytes -= old.bytes;
    }
    return view;
  }

  return async (userId, need) => {
    if (need === "vectors") return viewOfSnapshot(await store.read(userId));
    // One refresh at a time per user: a view is updated in place.
    const running = pending.get(userId);
    const next = (running ?? Promise.resolve()).catch(() => {}).then(() => refresh(userId));
    pending.set(userId, next);
    try {
      return await next;
    } finally {
      if (pending.get(userId) === next) pending.delete(userId);
    }
  };
}
