/**
 * The reader's side of the facts file (format/facts-file.ts): each key's latest entry, read whole
 * once and then only what the file grew by, like the refs file; a file replaced (a compaction) or cut
 * is read again whole. Facts are kept as their JSON text and parsed for the rows an answer shows.
 */
import { CorruptStoreError } from "../../errors.ts";
import type { PhotoFacts } from "../../facts/photo-facts.ts";
import { checkFactsHeader, FACTS_HEADER_BYTES, readFactsFrames } from "../format/facts-file.ts";
import { readPathFrom } from "../fs-util.ts";

export class FactsIndex {
  private byKey = new Map<string, { crc: number; json: string }>();
  private ino = -1;
  private head = Buffer.alloc(0);
  private end = 0;
  private textBytes = 0;

  /** Memory held, near enough. */
  get bytes(): number {
    return this.textBytes + this.byKey.size * 64;
  }

  /** The facts of the record of `key` whose log frame checksum is `crc`; null when it has none. */
  get(key: string, crc: number): PhotoFacts | null {
    const entry = this.byKey.get(key);
    return entry && entry.crc === crc ? (JSON.parse(entry.json) as PhotoFacts) : null;
  }

  /** Reads what the file at `path` grew by since the last call (all of it the first time, or when replaced). */
  async refresh(path: string): Promise<void> {
    const got = await readPathFrom(path, this.end, FACTS_HEADER_BYTES);
    if (!got) {
      this.reset(-1);
      return;
    }
    let { buf } = got;
    let from = 0;
    if (got.ino !== this.ino || got.size < this.end || !got.head.equals(this.head)) {
      this.reset(-1);
      buf = (await readPathFrom(path, 0))?.buf ?? Buffer.alloc(0);
      const header = checkFactsHeader(buf);
      if (header === "truncated") return; // being created: read again next time
      if (header !== "ok") throw new CorruptStoreError(`${path}: ${header}`);
      this.ino = got.ino;
      this.head = Buffer.from(buf.subarray(0, FACTS_HEADER_BYTES));
      this.end = from = FACTS_HEADER_BYTES;
    }
    const used = readFactsFrames(buf, from, (e) => {
      const json = JSON.stringify(e.facts);
      this.textBytes += json.length + e.key.length;
      this.byKey.set(e.key, { crc: e.crc, json });
    });
    this.end += used - from;
  }

  private reset(ino: number): void {
    this.byKey = new Map();
    this.ino = ino;
    this.head = Buffer.alloc(0);
    this.end = 0;
    this.textBytes = 0;
  }
}
