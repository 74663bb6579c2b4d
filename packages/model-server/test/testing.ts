/**
 * Fixtures shared by this package's tests: the real model and the real dev photos from
 * ../shared (used in place, never copied), and hand-made bad inputs.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import sharp from "sharp";

export const SHARED = resolve(import.meta.dirname, "../../../../shared");
export const MODEL_PATH = join(SHARED, "models/mobilenetv2-12-int8.onnx");
export const PHOTOS = join(SHARED, "data/dev-photos");

export function photo(file: string): Buffer {
  return readFileSync(join(PHOTOS, file));
}

/** groups.csv as (file, group) rows. */
export function groups(): Array<{ file: string; group: string }> {
  return readFileSync(join(PHOTOS, "groups.csv"), "utf8")
    .trim()
    .split("\n")
    .slice(1)
    .map((line) => {
      const [file, group] = line.trim().split(",");
      return { file: file!, group: group! };
    });
}

export function cosine(a: Float32Array | number[], b: Float32Array | number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const out = Buffer.alloc(8 + data.length + 4);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 8 + data.length);
  return out;
}

/** A PNG whose valid IHDR declares width×height RGB pixels, with one tiny IDAT: a decompression bomb's header. */
export function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    chunk("IEND", new Uint8Array(0)),
  ]);
}

/**
 * The photo's pixels turned 90° counter-clockwise, stored with EXIF orientation 6 ("rotate
 * 90° clockwise to display"): a viewer shows the original upright. `tagged: false` omits the tag.
 */
export async function rotatedCopy(jpeg: Buffer, tagged = true): Promise<Buffer> {
  const turned = sharp(jpeg).rotate(270);
  return (tagged ? turned.withMetadata({ orientation: 6 }) : turned).jpeg({ quality: 95 }).toBuffer();
}
