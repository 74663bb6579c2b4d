/**
 * A photo's facts: what the poller learns from its one decode, stored with the photo's record (see
 * store/format/facts-file.ts) and given by the clusters API with each image. Photos stored before
 * facts existed have none (null), until `photo-clusters backfill --reembed` fills them in.
 */
import { createHash } from "node:crypto";
import { captureMillis, captureTime } from "./exif.ts";
import { jpegQuality } from "./jpeg-quality.ts";
import { type Exposure, pixelFacts } from "./pixel-facts.ts";

export const PHOTO_FORMATS = ["jpeg", "png", "webp", "heic", "avif"] as const;
export type PhotoFormat = (typeof PHOTO_FORMATS)[number];

export interface PhotoFacts {
  /** EXIF DateTimeOriginal (with SubSecTimeOriginal and OffsetTimeOriginal when present) as ISO 8601; null without. */
  takenAt: string | null;
  /** Pixels after EXIF orientation: as the photo is seen. */
  width: number;
  height: number;
  /** The file's size. */
  bytes: number;
  /** What the bytes are, whatever the file's name says. */
  format: PhotoFormat;
  /** A JPEG's quality setting (1–100) from its quantization table; null for other formats. */
  jpegQuality: number | null;
  /** SHA-256 of the file's bytes, hex: identical copies share it. */
  sha256: string;
  /** 64-bit perceptual hash, 16 hex digits. */
  phash: string;
  /** In [0, 1): crisper detail is higher; noise does not raise it. */
  sharpness: number;
  /** In [0, 1]: sensor noise (σ over 255) where the picture is flattest. */
  noise: number;
  exposure: Exposure;
  /** Mean red, green and blue, each in [0, 1]. */
  rgb: [number, number, number];
  /** Mean chroma in [0, 1]. */
  chroma: number;
}

export interface DecodedForFacts {
  /** The file as uploaded. */
  bytes: Uint8Array;
  format: PhotoFormat;
  width: number;
  height: number;
  /** The EXIF block (TIFF structure) the decoder found, if any. */
  exif?: Uint8Array;
  /** The photo upright at a few hundred pixels a side, RGB, 8 bits a channel. */
  small: { pixels: Uint8Array; width: number; height: number };
}

export function photoFacts(d: DecodedForFacts): PhotoFacts {
  const { sharpness, noise, exposure, phash, rgb, chroma } = pixelFacts(d.small.pixels, d.small.width, d.small.height, 3);
  return {
    takenAt: captureTime(d.exif),
    width: d.width,
    height: d.height,
    bytes: d.bytes.length,
    format: d.format,
    jpegQuality: d.format === "jpeg" ? jpegQuality(d.bytes) : null,
    sha256: createHash("sha256").update(d.bytes).digest("hex"),
    phash,
    sharpness,
    noise,
    exposure,
    rgb,
    chroma,
  };
}

/** What captureTime writes: a date and time, milliseconds and an offset when known. */
const TAKEN_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?(Z|[+-]\d{2}:\d{2})?$/;

/** Only the fields PhotoFacts names, so nothing else a sender adds is stored or served. */
export function knownFacts(f: PhotoFacts): PhotoFacts {
  const { takenAt, width, height, bytes, format, jpegQuality, sha256, phash, sharpness, noise, exposure, rgb, chroma } = f;
  return {
    takenAt,
    width,
    height,
    bytes,
    format,
    jpegQuality,
    sha256,
    phash,
    sharpness,
    noise,
    exposure: { mean: exposure.mean, shadows: exposure.shadows, highlights: exposure.highlights },
    rgb: [rgb[0], rgb[1], rgb[2]],
    chroma,
  };
}

const isUnit = (x: unknown) => typeof x === "number" && x >= 0 && x <= 1;
const isCount = (x: unknown) => Number.isInteger(x) && (x as number) >= 0;

/** Whether a value (from the writer's wire or the facts file) has the shape of PhotoFacts. */
export function isPhotoFacts(value: unknown): value is PhotoFacts {
  const f = value as PhotoFacts;
  return (
    typeof f === "object" &&
    f !== null &&
    (f.takenAt === null || (typeof f.takenAt === "string" && TAKEN_AT.test(f.takenAt) && !Number.isNaN(captureMillis(f.takenAt)))) &&
    isCount(f.width) &&
    isCount(f.height) &&
    isCount(f.bytes) &&
    (PHOTO_FORMATS as readonly string[]).includes(f.format) &&
    (f.jpegQuality === null || (Number.isInteger(f.jpegQuality) && f.jpegQuality >= 1 && f.jpegQuality <= 100)) &&
    typeof f.sha256 === "string" &&
    /^[0-9a-f]{64}$/.test(f.sha256) &&
    typeof f.phash === "string" &&
    /^[0-9a-f]{16}$/.test(f.phash) &&
    isUnit(f.sharpness) &&
    isUnit(f.noise) &&
    typeof f.exposure === "object" &&
    f.exposure !== null &&
    isUnit(f.exposure.mean) &&
    isUnit(f.exposure.shadows) &&
    isUnit(f.exposure.highlights) &&
    Array.isArray(f.rgb) &&
    f.rgb.length === 3 &&
    f.rgb.every(isUnit) &&
    isUnit(f.chroma)
  );
}
