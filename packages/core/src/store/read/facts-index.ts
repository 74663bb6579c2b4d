/**
 * The reader's side of the facts file (format/facts-file.ts): each key's latest entry, read whole
 * once and then only what the file grew by, like the refs file; a file replaced (a compaction) or cut
 * is read again whole. Facts are kept as the objects the file's JSON parses to (about 500 bytes a
 * photo): a warm request reads them without parsing anything again.
 * A file this code cannot read (a damaged header, or a newer format) reads as no facts: it never
 * keeps a user's clusters from being answered.
 */
import type { PhotoFacts } from "../../facts/photo-facts.ts";
import { checkFactsHeader, FACTS_HEADER_BYTES, readFactsFrames } from "../format/facts-file.ts";
import { readPathFrom } from "../fs-util.ts";

interface State {
  byKey: Map<string, { crc: number; facts: PhotoFacts }>;
  ino: number;
  head: Buffer;
  end: number;
  /** Memory the entries hold, near enough. */
  entryBytes: number;
  /** False for a file read as no facts: nothing appended to it is taken either. */
  readable: boolean;
}

const empty = (): State => ({ byKey: new Map(), ino: -1, head: Buffer.alloc(0), end: 0, entryBytes: 0, readable: true });

/**
 * A parsed PhotoFacts and its map entry: the API process held about 510 bytes a photo more with facts
 * than without (`pnpm bench --serve`, api_bytes_per_user at 2,000 photos: 582 against 70 after edges).
 */
const ENTRY_BYTES = 500;

export class FactsIndex {
  private state = empty();
  /** Refreshes run one after another: two at once would both add what the file grew by. */
  private queue: Promise<void> = Promise.resolve();

  /** Memory held, near enough. */
  get bytes(): number {
    return this.state.entryBytes;
  }

  /** The facts of the record of `key` whose log frame checksum is `crc`; null when it has none. */
  get(key: string, crc: number): PhotoFacts | null {
    const entry = this.state.byKey.get(key);
    return entry && entry.crc === crc ? entry.facts : null;
  }

  /** Reads what the file at `path` grew by since the last call (all of it the first time, or when replaced). */
  refresh(path: string, warn?: (message: string, fields: Record<string, unknown>) => void): Promise<void> {
    const run = this.queue.then(() => this.read(path, warn));
    this.queue = run.catch(() => {});
    return run;
  }

  private async read(path: string, warn?: (message: string, fields: Record<string, unknown>) => void): Promise<void> {
    const s = this.state;
    const got = await readPathFrom(path, s.end, FACTS_HEADER_BYTES);
    if (!got) {
      this.state = empty();
      return;
    }
    if (got.ino === s.ino && got.size >= s.end && got.head.equals(s.head)) {
      if (s.readable) s.end += take(s, got.buf, 0);
      return;
    }
    // A first read, or another file at the path: read it whole into a new state, then swap.
    const whole = await readPathFrom(path, 0);
    const next = empty();
    const buf = whole?.buf ?? Buffer.alloc(0);
    const header = checkFactsHeader(buf);
    if (header !== "ok") {
      if (header !== "truncated") warn?.("store: facts file unreadable; its photos' facts read as none", { file: path, reason: header });
      // Being created (truncated): read again next time. Unreadable: not again until it changes.
      if (header !== "truncated" && whole)
        Object.assign(next, { ino: whole.ino, head: Buffer.from(buf.subarray(0, FACTS_HEADER_BYTES)), end: whole.size, readable: false });
      this.state = next;
      return;
    }
    next.ino = whole!.ino;
    next.head = Buffer.from(buf.subarray(0, FACTS_HEADER_BYTES));
    next.end = take(next, buf, FACTS_HEADER_BYTES);
    this.state = next;
  }
}

/** Takes the whole frames of `buf` from `from` into `s`; returns where they end. */
function take(s: State, buf: Buffer, from: number): number {
  return readFactsFrames(buf, from, (e) => {
    if (!s.byKey.has(e.key)) s.entryBytes += ENTRY_BYTES + e.key.length;
    s.byKey.set(e.key, { crc: e.crc, facts: e.facts });
  });
}
