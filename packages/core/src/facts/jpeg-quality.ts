/**
 * A JPEG's quality setting (1–100, as libjpeg and most encoders scale it), estimated from its
 * luminance quantization table: the table is the IJG standard table scaled by the quality, so the
 * ratio of their sums gives the scale back. A photo recompressed at a lower quality has coarser
 * tables than its original, whatever its size; null for a JPEG without a readable table.
 */

/** The IJG standard luminance table (ITU T.81, Annex K), in zigzag order; its sum is all we use. */
const STANDARD_LUMA_SUM = [
  16, 11, 12, 14, 12, 10, 16, 14, 13, 14, 18, 17, 16, 19, 24, 40, 26, 24, 22, 22, 24, 49, 35, 37, 29, 40, 58, 51, 61, 60, 57, 51, 56, 55, 64, 72, 92, 78, 64,
  68, 87, 69, 55, 56, 80, 109, 81, 87, 95, 98, 103, 104, 103, 62, 77, 113, 121, 112, 100, 120, 92, 101, 103, 99,
].reduce((a, b) => a + b, 0);

export function jpegQuality(bytes: Uint8Array): number | null {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1];
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01 || marker === 0xff) {
      at += marker === 0xff ? 1 : 2;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return null; // scan data before any table
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    if (length < 2 || at + 2 + length > bytes.length) return null;
    if (marker === 0xdb) {
      // DQT: one or more tables, each a precision/id byte then 64 entries of 8 or 16 bits.
      let p = at + 4;
      const end = at + 2 + length;
      while (p < end) {
        const precision = bytes[p] >> 4;
        const id = bytes[p] & 15;
        const size = precision ? 128 : 64;
        if (p + 1 + size > end) return null;
        if (id === 0) {
          let sum = 0;
          for (let k = 0; k < 64; k++) sum += precision ? (bytes[p + 1 + 2 * k] << 8) | bytes[p + 2 + 2 * k] : bytes[p + 1 + k];
          // entry = (standard × scale + 50) / 100, with scale = 5000 / q below 50 and 200 − 2q from 50 on.
          const scale = (100 * sum) / STANDARD_LUMA_SUM;
          const q = scale <= 100 ? (200 - scale) / 2 : 5000 / scale;
          return Math.max(1, Math.min(100, Math.round(q)));
        }
        p += 1 + size;
      }
    }
    at += 2 + length;
  }
  return null;
}
