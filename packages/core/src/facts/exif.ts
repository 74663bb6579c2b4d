/**
 * The little of EXIF a photo's facts need, read from the TIFF structure sharp's `metadata().exif`
 * gives for every format (JPEG's APP1, PNG's eXIf, WebP's and HEIC's Exif chunk or item): the capture
 * time, and how many fields the photo carries (Immich's tie-break, which `eval` uses as an anchor).
 * Anything malformed reads as absent; a photo is never refused for its EXIF.
 */

const TAG_EXIF_IFD = 0x8769;
const TAG_DATE_TIME_ORIGINAL = 0x9003;
const TAG_OFFSET_TIME_ORIGINAL = 0x9011;
const TAG_SUBSEC_TIME_ORIGINAL = 0x9291;
const TYPE_ASCII = 2;
const TYPE_LONG = 4;

interface Ifd {
  /** Tag → the entry's offset in the TIFF buffer. */
  entries: Map<number, number>;
}

class Tiff {
  private constructor(
    private readonly buf: Buffer,
    private readonly little: boolean,
  ) {}

  /** The TIFF structure at the start of `exif`, after the "Exif\0\0" marker some sources keep. */
  static open(exif: Uint8Array): Tiff | null {
    let buf = Buffer.from(exif.buffer, exif.byteOffset, exif.byteLength);
    if (buf.subarray(0, 6).toString("latin1") === "Exif\0\0") buf = buf.subarray(6);
    if (buf.length < 8) return null;
    const order = buf.toString("latin1", 0, 2);
    if (order !== "II" && order !== "MM") return null;
    const tiff = new Tiff(buf, order === "II");
    return tiff.u16(2) === 42 ? tiff : null;
  }

  u16(at: number): number {
    return this.little ? this.buf.readUInt16LE(at) : this.buf.readUInt16BE(at);
  }

  u32(at: number): number {
    return this.little ? this.buf.readUInt32LE(at) : this.buf.readUInt32BE(at);
  }

  ifd(at: number): Ifd | null {
    if (at < 8 || at + 2 > this.buf.length) return null;
    const count = this.u16(at);
    if (at + 2 + count * 12 > this.buf.length) return null;
    const entries = new Map<number, number>();
    for (let i = 0; i < count; i++) entries.set(this.u16(at + 2 + i * 12), at + 2 + i * 12);
    return { entries };
  }

  first(): Ifd | null {
    return this.ifd(this.u32(4));
  }

  exifIfd(ifd0: Ifd): Ifd | null {
    const entry = ifd0.entries.get(TAG_EXIF_IFD);
    if (entry === undefined || this.u16(entry + 2) !== TYPE_LONG) return null;
    return this.ifd(this.u32(entry + 8));
  }

  /** An ASCII field's text, without its terminating NULs and spaces; null when absent or malformed. */
  ascii(ifd: Ifd | null, tag: number): string | null {
    const entry = ifd?.entries.get(tag);
    if (entry === undefined || this.u16(entry + 2) !== TYPE_ASCII) return null;
    const count = this.u32(entry + 4);
    const at = count <= 4 ? entry + 8 : this.u32(entry + 8);
    if (count === 0 || at + count > this.buf.length) return null;
    const text = this.buf.toString("latin1", at, at + count).replace(/[\0\s]+$/, "");
    return text.length > 0 ? text : null;
  }
}

/**
 * When the photo was taken, as ISO 8601: `2024-05-06T07:08:09.123+02:00` with sub-seconds and offset
 * when the camera wrote them, `2024-05-06T07:08:09` (a local time) without an offset; null without
 * a valid DateTimeOriginal.
 */
export function captureTime(exif: Uint8Array | undefined): string | null {
  if (!exif) return null;
  try {
    const tiff = Tiff.open(exif);
    const ifd0 = tiff?.first();
    if (!tiff || !ifd0) return null;
    const ifd = tiff.exifIfd(ifd0);
    const date = /^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(tiff.ascii(ifd, TAG_DATE_TIME_ORIGINAL) ?? "");
    if (!date) return null;
    const [, y, mo, d, h, mi, s] = date.map(Number);
    if (y < 1800 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return null;
    let iso = `${date[1]}-${date[2]}-${date[3]}T${date[4]}:${date[5]}:${date[6]}`;
    const sub = /^\d{1,9}$/.exec(tiff.ascii(ifd, TAG_SUBSEC_TIME_ORIGINAL) ?? "");
    if (sub) iso += `.${sub[0].padEnd(3, "0").slice(0, 3)}`;
    const offset = /^([+-])(\d{2}):(\d{2})$/.exec(tiff.ascii(ifd, TAG_OFFSET_TIME_ORIGINAL) ?? "");
    if (offset && Number(offset[2]) <= 14 && Number(offset[3]) < 60) iso += offset[0] === "+00:00" || offset[0] === "-00:00" ? "Z" : offset[0];
    return iso;
  } catch {
    return null; // a field pointing past the buffer
  }
}

/** How many EXIF fields the photo carries (IFD0 and the Exif IFD); 0 without EXIF. */
export function exifFieldCount(exif: Uint8Array | undefined): number {
  if (!exif) return 0;
  try {
    const tiff = Tiff.open(exif);
    const ifd0 = tiff?.first();
    if (!tiff || !ifd0) return 0;
    return ifd0.entries.size + (tiff.exifIfd(ifd0)?.entries.size ?? 0);
  } catch {
    return 0;
  }
}

/** Milliseconds since the epoch of a capture time, for ordering; a time without offset is taken as UTC. */
export function captureMillis(takenAt: string): number {
  const hasZone = /(Z|[+-]\d{2}:\d{2})$/.test(takenAt);
  return Date.parse(hasZone ? takenAt : `${takenAt}Z`);
}
