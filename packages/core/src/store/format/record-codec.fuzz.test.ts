import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32, crc32Table } from "./crc32.ts";
import { readFrame } from "./frame.ts";
import { decodeRecord, encodeRecord, type LogRecord } from "./record-codec.ts";

const text = (max: number) => fc.string({ unit: "grapheme", minLength: 1, maxLength: max });
const hex = fc.string({ unit: fc.constantFrom(..."0123456789ABCDEF"), minLength: 1, maxLength: 24 });
const put = fc.record({
  kind: fc.constant("put" as const),
  key: text(60),
  imageId: text(20),
  etag: text(34),
  sequencer: hex,
  vector: fc.float32Array({ minLength: 1, maxLength: 40, noNaN: true }),
});
const del = fc.record({ kind: fc.constant("delete" as const), key: text(60), imageId: text(20), sequencer: hex });
const record: fc.Arbitrary<LogRecord> = fc.oneof(put, del);

function decodeAt(buf: Buffer) {
  const frame = readFrame(buf, 0);
  if (frame.status !== "ok") return { status: frame.status } as const;
  const view = decodeRecord(buf, frame.payloadStart, frame.payloadEnd);
  if (!view) return { status: "malformed" } as const;
  const vector = new Float32Array(view.dimension);
  for (let k = 0; k < view.dimension; k++) vector[k] = buf.readFloatLE(view.vectorOffset + 4 * k);
  return { status: "ok", view, vector } as const;
}

describe("record codec", () => {
  it("reads back every record it writes", () => {
    fc.assert(
      fc.property(record, (r) => {
        const decoded = decodeAt(encodeRecord(r).frame);
        expect(decoded.status).toBe("ok");
        if (decoded.status !== "ok") return;
        expect(decoded.view).toMatchObject({ kind: r.kind, key: r.key, imageId: r.imageId, sequencer: r.sequencer });
        if (r.kind === "put") {
          expect(decoded.view.etag).toBe(r.etag);
          expect(Array.from(decoded.vector)).toEqual(Array.from(r.vector));
        } else expect(decoded.vector.length).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it("detects any single corrupted byte instead of returning wrong data", () => {
    fc.assert(
      fc.property(record, fc.nat(), fc.integer({ min: 1, max: 255 }), (r, at, flip) => {
        const frame = Buffer.from(encodeRecord(r).frame);
        frame[at % frame.length] ^= flip;
        expect(decodeAt(frame).status).not.toBe("ok");
      }),
      { numRuns: 1000 },
    );
  });

  it("reports a frame cut anywhere as truncated, never as a record", () => {
    fc.assert(
      fc.property(record, fc.nat(), (r, cut) => {
        const frame = encodeRecord(r).frame;
        const short = frame.subarray(0, cut % frame.length);
        const status = decodeAt(short).status;
        expect(status === "truncated" || (short.length === 0 && status === "end")).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("computes the same crc32 natively and with the table", () => {
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 50 }), (a, b) => {
        expect(crc32Table(b, crc32Table(a))).toBe(crc32(b, crc32(a)));
      }),
    );
  });
});
