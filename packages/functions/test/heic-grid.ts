/**
 * iPhone-style HEIC files for tests. An iPhone stores a photo as a `grid` item: hidden 512×512 HEVC
 * tiles that the reader assembles and crops to the photo's size (4032×3024 out of a 4096×3072
 * canvas), with the rotation as an `irot` property on the grid and the same rotation again in EXIF.
 * Debian's heif-enc (1.15) cannot write grids, so each tile is encoded alone with heif-enc and the
 * tiles' coded data and properties are moved into one hand-assembled file:
 *
 *   ftyp  brands heic, mif1, miaf
 *   meta  hdlr 'pict'; pitm: the grid is the primary item; iloc: where each item's bytes are;
 *         iinf: the grid, the tiles (hidden), the Exif; iref: dimg grid → tiles in row order, cdsc Exif → grid;
 *         iprp: ipco holds each property once, ipma says which item has which; idat: the grid descriptor
 *   mdat  the tiles' HEVC data one after another, then the Exif
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import sharp from "sharp";

export interface GridOptions {
  /** Tile side in pixels (iPhones: 512). */
  tile?: number;
  /** `irot` on the grid, in 90° anti-clockwise turns: 3 is 90° clockwise, what EXIF orientation 6 says. */
  irot?: 0 | 1 | 2 | 3;
  /** An EXIF Orientation stored with the grid, as iPhones do (informational in HEIF: readers must not apply it). */
  exifOrientation?: number;
  /** A folder for scratch files. */
  dir: string;
}
/** Interleaved RGB pixels, or an image sharp reads (its bytes or its path), taken as stored: its own EXIF orientation is not applied. */
export type GridSource = { data: Uint8Array; width: number; height: number } | Uint8Array | string;

const u8 = (n: number) => Buffer.from([n]);
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number) => Buffer.from([n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
const box = (type: string, ...body: Buffer[]) => Buffer.concat([u32(8 + Buffer.concat(body).length), Buffer.from(type, "latin1"), ...body]);
/** A box whose body starts with a version byte and 24 bits of flags. */
const fullBox = (type: string, version: number, flags: number, ...body: Buffer[]) => box(type, u8(version), u8(flags >> 16), u16(flags & 0xffff), ...body);
/** The boxes laid one after another from `start` to the end of `file`, by type (each type occurs once where we look). */
function boxes(file: Buffer, start: number): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (let at = start; at < file.length; at += file.readUInt32BE(at))
    out[file.toString("latin1", at + 4, at + 8)] = file.subarray(at, at + file.readUInt32BE(at));
  return out;
}
const typeOf = (b: Buffer) => b.toString("latin1", 4, 8);
const run = promisify(execFile);

/** A tile's HEVC data and its properties (hvcC, ispe, pixi, colr if any). */
type Tile = { data: Buffer; properties: Buffer[] };

/** One tile through heif-enc, taken apart again. */
async function encodeTile(image: sharp.Sharp, path: string): Promise<Tile> {
  await image.png().toFile(`${path}.png`);
  await run("heif-enc", ["-q", "80", "-o", `${path}.heic`, `${path}.png`]);
  const file = await readFile(`${path}.heic`);
  const meta = boxes(boxes(file, 0).meta!, 12);
  // heif-enc wrote one item, so its coded data is the whole mdat and its properties all of ipco.
  if (meta.iinf!.readUInt16BE(12) !== 1) throw new Error(`heif-enc wrote more than one item in ${path}.heic`);
  return { data: boxes(file, 0).mdat!.subarray(8), properties: Object.values(boxes(boxes(meta.iprp!, 8).ipco!, 8)) };
}

/** A grid HEIC of the source's pixels, each tile encoded by heif-enc at quality 80. */
export async function gridHeic(source: GridSource, { tile = 512, irot, exifOrientation, dir }: GridOptions): Promise<Buffer> {
  const input =
    typeof source === "string" || source instanceof Uint8Array
      ? sharp(source)
      : sharp(source.data, { raw: { width: source.width, height: source.height, channels: 3 } });
  const { width, height } = await input.metadata();
  const [columns, rows] = [Math.ceil(width! / tile), Math.ceil(height! / tile)];
  // The tiles cover a canvas padded to whole tiles, as iPhones' do; the grid's output size crops it back.
  const canvas = await input
    .removeAlpha()
    .extend({ right: columns * tile - width!, bottom: rows * tile - height!, extendWith: "copy" })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const scratch = await mkdtemp(join(dir, "grid-"));
  // As many heif-enc at a time as there are CPUs (x265 takes about 25 MB a tile; an iPhone photo has 48 tiles).
  const tiles: Tile[] = [];
  const queue = [...Array(rows * columns).keys()];
  const encodeNext = async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
      const area = { left: (i % columns) * tile, top: Math.floor(i / columns) * tile, width: tile, height: tile };
      tiles[i] = await encodeTile(sharp(canvas.data, { raw: canvas.info }).extract(area), join(scratch, `tile-${i}`));
    }
  };
  await Promise.all(Array.from({ length: availableParallelism() }, encodeNext)).finally(() => rm(scratch, { recursive: true, force: true }));

  // Item ids: the tiles 1…n in row order, then the grid, then the Exif.
  const [gridId, exifId] = [tiles.length + 1, tiles.length + 2];
  // An Exif item: the offset of the TIFF header after this field, past "Exif\0\0" (as iPhones and exiftool write it),
  // then a big-endian TIFF whose one entry is Orientation (tag 0x0112, one SHORT).
  const exif =
    exifOrientation === undefined
      ? undefined
      : Buffer.concat([u32(6), Buffer.from("Exif\0\0MM\0*"), u32(8), u16(1), u16(0x0112), u16(3), u32(1), u16(exifOrientation), u16(0), u32(0)]);
  const stored = [...tiles.map((t, i) => ({ id: i + 1, data: t.data })), ...(exif ? [{ id: exifId, data: exif }] : [])];

  // ipma refers to properties by their 1-based place in ipco; the high bit marks an essential one, which a reader must
  // apply or not show the item at all.
  const ipco: Buffer[] = [];
  const property = (b: Buffer, essential = false) => {
    const index = ipco.findIndex((p) => p.equals(b));
    return (essential ? 0x8000 : 0) | (index >= 0 ? index + 1 : ipco.push(b));
  };
  const tileProperties = tiles.map((t) => t.properties.map((p) => property(p, typeOf(p) === "hvcC")));
  const gridProperties = [
    property(fullBox("ispe", 0, 0, u32(width!), u32(height!))),
    ...tiles[0]!.properties.filter((p) => ["colr", "pixi"].includes(typeOf(p))).map((p) => property(p)),
    ...(irot === undefined ? [] : [property(box("irot", u8(irot)), true)]),
  ];
  const associations = [...tileProperties, gridProperties].map((indices, i) => Buffer.concat([u16(i + 1), u8(indices.length), ...indices.map(u16)]));
  // The grid's own data: version, flags 0 (16-bit sizes), rows − 1, columns − 1, the output width and height.
  const grid = Buffer.concat([u8(0), u8(0), u8(rows - 1), u8(columns - 1), u16(width!), u16(height!)]);
  const infe = (id: number, type: string, hidden: boolean) => fullBox("infe", 2, hidden ? 1 : 0, u16(id), u16(0), Buffer.from(type), u8(0));
  const items = [infe(gridId, "grid", false), ...tiles.map((_, i) => infe(i + 1, "hvc1", true)), ...(exif ? [infe(exifId, "Exif", false)] : [])];
  const references = [box("dimg", u16(gridId), u16(tiles.length), ...tiles.map((_, i) => u16(i + 1)))];
  if (exif) references.push(box("cdsc", u16(exifId), u16(1), u16(gridId)));

  // iloc version 1, 4-byte offsets and lengths (0x44), no base offset: per item its construction method (0 offsets in
  // the file, 1 in idat) and one extent. The mdat offsets depend on meta's length, which does not depend on them.
  const location = (id: number, method: number, offset: number, length: number) =>
    Buffer.concat([u16(id), u16(method), u16(0), u16(1), u32(offset), u32(length)]);
  const meta = (mdatAt: number) => {
    const extents = [location(gridId, 1, 0, grid.length)];
    let at = mdatAt + 8;
    for (const { id, data } of stored) {
      extents.push(location(id, 0, at, data.length));
      at += data.length;
    }
    return fullBox(
      "meta",
      0,
      0,
      fullBox("hdlr", 0, 0, u32(0), Buffer.from("pict"), u32(0), u32(0), u32(0), u8(0)),
      fullBox("pitm", 0, 0, u16(gridId)),
      fullBox("iloc", 1, 0, u8(0x44), u8(0), u16(extents.length), ...extents),
      fullBox("iinf", 0, 0, u16(items.length), ...items),
      fullBox("iref", 0, 0, ...references),
      // ipma flags 1: 16-bit property indices.
      box("iprp", box("ipco", ...ipco), fullBox("ipma", 0, 1, u32(associations.length), ...associations)),
      box("idat", grid),
    );
  };
  const ftyp = box("ftyp", Buffer.from("heic"), u32(0), Buffer.from("mif1miafheic"));
  return Buffer.concat([ftyp, meta(ftyp.length + meta(0).length), box("mdat", ...stored.map((s) => s.data))]);
}
