/**
 * What a photo's bytes are, from their first bytes: the name can lie (a renamed file, a text file
 * called .heic), the magic numbers do not. A photo is decoded as what its bytes are.
 */
import type { PhotoFormat } from "@photo-clusters/core";

export type { PhotoFormat };

/** ISOBMFF brands of HEVC-coded HEIF (iPhones write `heic`; `mif1` alone is decided by its other brands). */
const HEIC_BRANDS = new Set(["heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs"]);
const AVIF_BRANDS = new Set(["avif", "avis"]);

const ascii = (bytes: Uint8Array, from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));

export function sniffFormat(bytes: Uint8Array): PhotoFormat | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  if (bytes.length >= 8 && ascii(bytes, 0, 8) === "\x89PNG\r\n\x1a\n") return "png";
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === "RIFF" && ascii(bytes, 8, 12) === "WEBP") return "webp";
  if (bytes.length >= 16 && ascii(bytes, 4, 8) === "ftyp") {
    // ftyp: size, "ftyp", major brand, minor version, then compatible brands, 4 bytes each.
    // At most 64 brands: the box's size is the uploader's to claim.
    const size = Math.min(((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0, bytes.length, 16 + 64 * 4);
    const brands = [ascii(bytes, 8, 12)];
    for (let at = 16; at + 4 <= size; at += 4) brands.push(ascii(bytes, at, at + 4));
    if (brands.some((b) => AVIF_BRANDS.has(b))) return "avif";
    if (brands.some((b) => HEIC_BRANDS.has(b) || b === "mif1" || b === "msf1")) return "heic";
  }
  return null;
}
