import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LockTimeoutError } from "../../errors.ts";
import { recordingLogger, tempRoot } from "../fixtures/factories.ts";
import { acquireLock } from "./store-lock.ts";

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ root, cleanup } = await tempRoot()));
afterEach(() => cleanup());

describe("store lock", () => {
  it("reports a lost lock to the holder instead of crashing the process", async () => {
    const { warnings, logger } = recordingLogger();
    const target = join(root, "m.emb");
    const lock = await acquireLock(target, `${target}.lock`, { waitMs: 1000, staleMs: 2000, logger });

    await rm(`${target}.lock`, { recursive: true });
    // Its keep-alive (every staleMs / 2) finds the lock gone: wait for that, however late it runs.
    for (let waited = 0; lock.lost() === null && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));

    expect(lock.lost()).toBeInstanceOf(Error);
    expect(warnings.some((w) => /compromised/.test(w))).toBe(true);
    await expect(lock.release()).resolves.toBeUndefined();
  });

  it("takes over a lock whose holder died once it is stale", async () => {
    const target = join(root, "m.emb");
    await mkdir(`${target}.lock`); // left behind by a killed writer; its mtime stops moving
    const { logger } = recordingLogger();

    const early = await acquireLock(target, `${target}.lock`, { waitMs: 200, staleMs: 2000, logger }).catch((e) => e);
    const later = await acquireLock(target, `${target}.lock`, { waitMs: 5000, staleMs: 2000, logger });

    expect(early).toBeInstanceOf(LockTimeoutError);
    expect(later.lost()).toBeNull();
    await later.release();
  });
});
