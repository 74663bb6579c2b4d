/**
 * The writer's side of the facts file (format/facts-file.ts), under the user's lock: append a batch's
 * entries after its log records are durable, and keep only the live records' entries when the log
 * is compacted. Facts are not fsynced: facts a crash loses come back when the message is redelivered
 * (a redelivered photo's facts are written again) or from `backfill --reembed`.
 */
import { open } from "node:fs/promises";
import { CorruptStoreError } from "../../errors.ts";
import { checkFactsHeader, encodeFactsFrame, encodeFactsHeader, FACTS_HEADER_BYTES, type FactsEntry, readFactsFrames } from "../format/facts-file.ts";
import { atomicWrite, readIfExists, readRange, writeAt } from "../fs-util.ts";

/** Where a writer last left the facts file: appends go there while the file is the same one. */
export interface FactsEnd {
  ino: number;
  size: number;
}

/** Appends one frame of entries; returns where the file now ends. A torn tail is cut first. */
export async function appendFacts(path: string, entries: readonly FactsEntry[], known: FactsEnd | undefined): Promise<FactsEnd | undefined> {
  if (entries.length === 0) return known;
  let fh = await openIfExists(path);
  if (fh && known === undefined && (await fh.stat()).size < FACTS_HEADER_BYTES) {
    await fh.close(); // no whole header: never written past its creation, so nothing to keep
    fh = null;
  }
  if (!fh) {
    await atomicWrite(path, [encodeFactsHeader()]);
    fh = (await openIfExists(path))!;
  }
  try {
    const { ino, size } = await fh.stat();
    let end = known && known.ino === ino && known.size <= size ? known.size : 0;
    if (end < size) {
      // Bytes this writer has not seen: another writer's appends, or a torn frame to cut.
      const from = end;
      const buf = await readRange(fh, from, size);
      if (from === 0) {
        const header = checkFactsHeader(buf);
        // A newer format's file is left alone (this code would corrupt it); a damaged one starts again.
        if (header.startsWith("facts format")) throw new CorruptStoreError(`${path}: ${header}`);
        if (header !== "ok") {
          await fh.close();
          fh = null;
          await atomicWrite(path, [encodeFactsHeader()]);
          return appendFacts(path, entries, undefined);
        }
      }
      end = from + readFactsFrames(buf, from === 0 ? FACTS_HEADER_BYTES : 0, () => {});
      if (end < size) await fh.truncate(end);
    }
    const frame = encodeFactsFrame(entries);
    await writeAt(fh, frame, end);
    return { ino, size: end + frame.length };
  } finally {
    await fh?.close();
  }
}

/** Rewrites the facts file with the latest entry of each key whose record is still live (`liveCrc`). */
export async function compactFacts(path: string, liveCrc: ReadonlyMap<string, number>): Promise<void> {
  const buf = await readIfExists(path);
  if (!buf || checkFactsHeader(buf) !== "ok") return;
  const latest = new Map<string, FactsEntry>();
  readFactsFrames(buf, FACTS_HEADER_BYTES, (e) => latest.set(e.key, e));
  const kept = [...latest.values()].filter((e) => liveCrc.get(e.key) === e.crc);
  await atomicWrite(path, kept.length > 0 ? [encodeFactsHeader(), encodeFactsFrame(kept)] : [encodeFactsHeader()]);
}

async function openIfExists(path: string) {
  return open(path, "r+").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return null;
    throw err;
  });
}
