import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeLogHeader } from "./file-header.ts";
import { parseLog } from "./log-file.ts";
import { encodeRecord, type LogRecord } from "./record-codec.ts";

const D = 4;
const record: fc.Arbitrary<LogRecord> = fc.oneof(
  fc.record({
    kind: fc.constant("put" as const),
    key: fc.string({ minLength: 1, maxLength: 30 }),
    imageId: fc.stringMatching(/^[a-z0-9]{1,8}$/),
    etag: fc.string({ minLength: 1, maxLength: 10 }),
    sequencer: fc.stringMatching(/^[0-9A-F]{1,12}$/),
    vector: fc.float32Array({ minLength: D, maxLength: D, noNaN: true }),
  }),
  fc.record({
    kind: fc.constant("delete" as const),
    key: fc.string({ minLength: 1, maxLength: 30 }),
    imageId: fc.stringMatching(/^[a-z0-9]{1,8}$/),
    sequencer: fc.stringMatching(/^[0-9A-F]{1,12}$/),
  }),
);

function buildLog(records: LogRecord[]): { buf: Buffer; header: number } {
  const header = encodeLogHeader("m", D, "0123456789abcdef");
  return { buf: Buffer.concat([header, ...records.map((r) => encodeRecord(r).frame)]), header: header.length };
}

/** Each parsed record must equal the written record at the same position. */
function expectPrefix(buf: Buffer, written: LogRecord[]) {
  const log = parseLog(buf, "fuzz")!;
  expect(log.records.length).toBeLessThanOrEqual(written.length);
  log.records.forEach((view, i) => {
    expect(view.key).toBe(written[i].key);
    expect(view.sequencer).toBe(written[i].sequencer);
    expect(view.kind).toBe(written[i].kind);
  });
  return log;
}

describe("embedding log", () => {
  it("reads every record of an intact log", () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 20 }), (records) => {
        const { buf } = buildLog(records);
        const log = expectPrefix(buf, records);
        expect(log.records.length).toBe(records.length);
        expect(log.tailBytes).toBe(0);
      }),
    );
  });

  it("returns only intact leading records when any byte after the header is corrupted", () => {
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 12 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (records, at, flip) => {
        const { buf, header } = buildLog(records);
        const pos = header + (at % (buf.length - header));
        buf[pos] ^= flip;
        const log = expectPrefix(buf, records);
        expect(log.records.length).toBeLessThan(records.length);
        expect(log.validEnd).toBeLessThanOrEqual(pos);
      }),
      { numRuns: 500 },
    );
  });

  it("returns only whole records when the file is cut anywhere", () => {
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 12 }), fc.nat(), (records, cut) => {
        const { buf, header } = buildLog(records);
        const end = header + (cut % (buf.length - header + 1));
        const log = expectPrefix(buf.subarray(0, end), records);
        expect(log.validEnd + log.tailBytes).toBe(end);
      }),
      { numRuns: 500 },
    );
  });
});
