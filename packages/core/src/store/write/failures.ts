/**
 * What became of a user's photos that finally failed: one small JSON file per user,
 * `<root>/<userId>/failures.json`, `{ "version": 1, "failed": [{ key, imageId, code, message, at }] }`,
 * newest first, one entry per key, at most MAX_FAILURES. It is model-independent (a photo fails before
 * any model's store sees it), so it has a lock of its own; every change rewrites it atomically.
 * A key's entry goes when the key is later stored or deleted.
 */
import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { CorruptStoreError } from "../../errors.ts";
import { atomicWrite, readIfExists } from "../fs-util.ts";
import { assertId } from "../ids.ts";
import { compareSequencers } from "./sequencer.ts";
import { acquireLock } from "./store-lock.ts";
import type { FailureRecord, Settled, StoreLogger } from "../types.ts";

const VERSION = 1;
export const MAX_FAILURES = 1000;

const fileOf = (root: string, userId: string) => {
  assertId("user id", userId);
  return join(root, userId, "failures.json");
};

export async function readFailures(root: string, userId: string): Promise<FailureRecord[]> {
  const file = fileOf(root, userId);
  const buf = await readIfExists(file);
  if (!buf) return [];
  let parsed: { version?: unknown; failed?: unknown } = {};
  try {
    parsed = JSON.parse(buf.toString("utf8"));
  } catch {
    // reported below
  }
  if (parsed.version !== VERSION || !Array.isArray(parsed.failed)) throw new CorruptStoreError(`${file}: not a version ${VERSION} failures file`);
  return parsed.failed as FailureRecord[];
}

/** A key settled at this sequencer: its older failure records go, and none older is added after. */

/**
 * Adds `add` (a key's record replaced only by a newer one) and drops the records `settle` makes
 * stale. A user without a failures file and nothing to add costs one stat.
 */
export async function updateFailures(
  root: string,
  userId: string,
  change: { add?: readonly FailureRecord[]; settle?: readonly Settled[] },
  options: { logger: StoreLogger; lockWaitMs: number; staleMs: number },
): Promise<void> {
  const file = fileOf(root, userId);
  const add = change.add ?? [];
  if (
    add.length === 0 &&
    !(await stat(file).then(
      () => true,
      () => false,
    ))
  )
    return;
  await mkdir(join(root, userId), { recursive: true });
  const lock = await acquireLock(file, `${file}.lock`, { waitMs: options.lockWaitMs, staleMs: options.staleMs, logger: options.logger });
  try {
    const before = await readFailures(root, userId);
    const byKey = new Map(before.map((f) => [f.key, f]));
    for (const f of add) {
      const old = byKey.get(f.key);
      if (!old || compareSequencers(f.sequencer, old.sequencer) >= 0) byKey.set(f.key, f);
    }
    for (const s of change.settle ?? []) {
      const old = byKey.get(s.key);
      if (old && compareSequencers(old.sequencer, s.sequencer) <= 0) byKey.delete(s.key);
    }
    const failed = [...byKey.values()].sort((x, y) => (x.at < y.at ? 1 : x.at > y.at ? -1 : 0)).slice(0, MAX_FAILURES);
    if (add.length === 0 && failed.length === before.length) return;
    await atomicWrite(file, [Buffer.from(JSON.stringify({ version: VERSION, failed }))]);
  } finally {
    await lock.release();
  }
}
