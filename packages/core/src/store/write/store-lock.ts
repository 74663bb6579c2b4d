/**
 * The per-user writer lock: a `proper-lockfile` lock directory next to the log. Taken once per batch,
 * retried with jittered backoff until a bounded wait ends in LockTimeoutError (retryable). A lock
 * whose holder died is taken over after `staleMs`. Losing the lock while holding it (its heartbeat
 * failed) is recorded, never thrown asynchronously: the batch checks `lost()` and fails itself.
 */
import lockfile from "proper-lockfile";
import { LockTimeoutError } from "../../errors.ts";
import type { StoreLogger } from "../types.ts";

export interface HeldLock {
  /** The error that compromised the lock, if it was lost. */
  lost(): Error | null;
  release(): Promise<void>;
}

export async function acquireLock(target: string, lockPath: string, options: { waitMs: number; staleMs: number; logger: StoreLogger }): Promise<HeldLock> {
  const deadline = Date.now() + options.waitMs;
  let lostWith: Error | null = null;
  let delay = 5;
  for (;;) {
    try {
      const release = await lockfile.lock(target, {
        lockfilePath: lockPath,
        realpath: false,
        stale: options.staleMs,
        retries: 0,
        onCompromised: (err) => {
          lostWith = err;
          options.logger.error("store lock compromised", { lock: lockPath, error: err.message });
        },
      });
      return {
        lost: () => lostWith,
        release: async () => {
          try {
            await release();
          } catch (err) {
            if (!lostWith) options.logger.warn("store lock release failed", { lock: lockPath, error: (err as Error).message });
          }
        },
      };
    } catch (err) {
      if ((err as { code?: string }).code !== "ELOCKED") throw err;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new LockTimeoutError(`store lock ${lockPath} still held by another writer after ${options.waitMs} ms`, err);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(left, delay * (0.5 + Math.random()))));
      delay = Math.min(delay * 2, 100);
    }
  }
}
