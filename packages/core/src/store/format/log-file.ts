/**
 * Parsing a whole embedding log read in one `readFile`: header, then frames up to the first one that
 * is incomplete or fails its checksum. Everything from there on is a torn tail (a crash, or a writer
 * still appending): never data. Only a writer under the lock truncates it.
 */
import { CorruptStoreError } from "../../errors.ts";
import { decodeLogHeader, type LogHeader } from "./file-header.ts";
import { readFrame } from "./frame.ts";
import { decodeRecord, type RecordView } from "./record-codec.ts";

export interface ParsedLog {
  header: LogHeader;
  records: RecordView[];
  /** Frame checksum of each record, in log order (the graph file refers to them). */
  crcs: Uint32Array;
  /** Byte offset just past each record's frame (record i starts where i-1 ends, or after the header). */
  frameEnds: number[];
  /** Byte offset just past the last complete record. */
  validEnd: number;
  /** Bytes after `validEnd` that are not (yet) a complete record. */
  tailBytes: number;
}

/** Null when the file is shorter than its header (created but never completed: treat as absent). */
export function parseLog(buf: Buffer, file: string): ParsedLog | null {
  const head = decodeLogHeader(buf);
  if (head.status === "truncated") return null;
  if (head.status === "corrupt") throw new CorruptStoreError(`${file}: unreadable header (${head.reason})`);
  const header = head.header;
  return { header, ...parseRecords(buf, header.length, header.dimension) };
}

export type ParsedRecords = Omit<ParsedLog, "header">;

/**
 * The complete records of `buf` from `offset` on (a whole file after its header, or the bytes a
 * file grew by since a reader last looked). Offsets in the result are positions in `buf`.
 */
export function parseRecords(buf: Buffer, offset: number, dimension: number): ParsedRecords {
  const records: RecordView[] = [];
  const frameEnds: number[] = [];
  let crcs = new Uint32Array(256);
  for (;;) {
    const frame = readFrame(buf, offset);
    if (frame.status !== "ok") break;
    const view = decodeRecord(buf, frame.payloadStart, frame.payloadEnd);
    if (!view || (view.kind === "put" && view.dimension !== dimension)) break;
    if (records.length === crcs.length) {
      const grown = new Uint32Array(crcs.length * 2);
      grown.set(crcs);
      crcs = grown;
    }
    crcs[records.length] = frame.crc;
    records.push(view);
    frameEnds.push(frame.next);
    offset = frame.next;
  }
  return { records, frameEnds, crcs: crcs.subarray(0, records.length), validEnd: offset, tailBytes: buf.length - offset };
}
