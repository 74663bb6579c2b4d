import { describe, expect, it } from "vitest";
import { captureMillis, captureTime, exifFieldCount } from "./exif.ts";

/** A TIFF structure as cameras write it: IFD0 with Make and the Exif IFD pointer, then the Exif IFD's ASCII fields. */
function exif(fields: Record<number, string>, options: { bigEndian?: boolean; marker?: boolean } = {}): Buffer {
  const le = !options.bigEndian;
  const parts: Buffer[] = [];
  const u16 = (v: number) => {
    const b = Buffer.alloc(2);
    le ? b.writeUInt16LE(v) : b.writeUInt16BE(v);
    return b;
  };
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    le ? b.writeUInt32LE(v) : b.writeUInt32BE(v);
    return b;
  };
  const tags = Object.entries(fields).map(([tag, text]) => ({ tag: Number(tag), bytes: Buffer.from(`${text}\0`, "latin1") }));
  const ifd0At = 8;
  const ifd0Size = 2 + 2 * 12 + 4;
  const make = Buffer.from("Phone\0", "latin1");
  const makeAt = ifd0At + ifd0Size;
  const exifAt = makeAt + make.length + (make.length % 2);
  const exifSize = 2 + tags.length * 12 + 4;
  let dataAt = exifAt + exifSize;
  const entry = (tag: number, type: number, count: number, value: Buffer) => Buffer.concat([u16(tag), u16(type), u32(count), value]);
  parts.push(Buffer.from(le ? "II" : "MM", "latin1"), u16(42), u32(ifd0At));
  parts.push(u16(2), entry(0x010f, 2, make.length, u32(makeAt)), entry(0x8769, 4, 1, u32(exifAt)), u32(0));
  parts.push(make, Buffer.alloc(make.length % 2));
  const data: Buffer[] = [];
  parts.push(u16(tags.length));
  for (const { tag, bytes } of tags) {
    if (bytes.length <= 4) parts.push(entry(tag, 2, bytes.length, Buffer.concat([bytes, Buffer.alloc(4 - bytes.length)])));
    else {
      parts.push(entry(tag, 2, bytes.length, u32(dataAt)));
      data.push(bytes);
      dataAt += bytes.length;
    }
  }
  parts.push(u32(0), ...data);
  const tiff = Buffer.concat(parts);
  return options.marker ? Buffer.concat([Buffer.from("Exif\0\0", "latin1"), tiff]) : tiff;
}

const DATE = 0x9003;
const SUBSEC = 0x9291;
const OFFSET = 0x9011;

describe("captureTime", () => {
  it("reads DateTimeOriginal with its sub-seconds and offset as ISO 8601", () => {
    expect(captureTime(exif({ [DATE]: "2024:05:06 07:08:09", [SUBSEC]: "123", [OFFSET]: "+02:00" }))).toBe("2024-05-06T07:08:09.123+02:00");
  });

  it("gives a local time without an offset, and whole seconds without sub-seconds", () => {
    expect(captureTime(exif({ [DATE]: "2024:05:06 07:08:09" }))).toBe("2024-05-06T07:08:09");
    expect(captureTime(exif({ [DATE]: "2024:05:06 07:08:09", [OFFSET]: "-07:00" }))).toBe("2024-05-06T07:08:09-07:00");
  });

  it("pads or cuts sub-seconds to milliseconds, and writes UTC as Z", () => {
    expect(captureTime(exif({ [DATE]: "2024:05:06 07:08:09", [SUBSEC]: "5", [OFFSET]: "+00:00" }))).toBe("2024-05-06T07:08:09.500Z");
    expect(captureTime(exif({ [DATE]: "2024:05:06 07:08:09", [SUBSEC]: "123456" }))).toBe("2024-05-06T07:08:09.123");
  });

  it("reads big-endian EXIF and the 'Exif' marker some decoders keep", () => {
    expect(captureTime(exif({ [DATE]: "2023:12:31 23:59:59", [SUBSEC]: "07" }, { bigEndian: true, marker: true }))).toBe("2023-12-31T23:59:59.070");
  });

  it("is null without EXIF, without DateTimeOriginal, or for a blank or impossible date", () => {
    expect(captureTime(undefined)).toBeNull();
    expect(captureTime(exif({}))).toBeNull();
    expect(captureTime(exif({ [DATE]: "    :  :     :  :  " }))).toBeNull();
    expect(captureTime(exif({ [DATE]: "2024:13:06 07:08:09" }))).toBeNull();
    expect(captureTime(Buffer.from("not exif at all"))).toBeNull();
    expect(captureTime(exif({ [DATE]: "2024:05:06 07:08:09" }).subarray(0, 40))).toBeNull();
  });
});

describe("exifFieldCount", () => {
  it("counts the fields of IFD0 and the Exif IFD", () => {
    expect(exifFieldCount(exif({ [DATE]: "2024:05:06 07:08:09", [OFFSET]: "+02:00" }))).toBe(4);
    expect(exifFieldCount(undefined)).toBe(0);
  });
});

describe("captureMillis", () => {
  it("orders times with offsets by the instant they name", () => {
    expect(captureMillis("2024-05-06T07:08:09+02:00")).toBeLessThan(captureMillis("2024-05-06T06:08:09Z") + 1);
    expect(captureMillis("2024-05-06T07:08:09.500")).toBe(Date.UTC(2024, 4, 6, 7, 8, 9, 500));
  });
});
