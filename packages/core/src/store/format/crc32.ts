/**
 * CRC-32 (IEEE 802.3, the zlib/PNG polynomial). Node 20.15+ ships `zlib.crc32` (native, fast);
 * the table-driven fallback keeps the format readable on older runtimes and gives the same values.
 */
import * as zlib from "node:zlib";

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32Table(data: Uint8Array, previous = 0): number {
  let c = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** crc32 of `data`, continuing from `previous` (the crc of the bytes before it). */
export const crc32: (data: Uint8Array, previous?: number) => number =
  typeof native === "function" ? (data, previous = 0) => native(data, previous) >>> 0 : crc32Table;
