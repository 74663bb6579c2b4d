/**
 * HEIC as iPhones write it: a grid of 512×512 HEVC tiles cropped to the photo's size, turned by an
 * `irot` on the grid, with the same turn in EXIF. The files are assembled at run time from tiles
 * encoded by Debian's heif-enc (test/heic-grid.ts), which cannot write grids itself.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mobilenetV2Int8 } from "@photo-clusters/core";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";
import { systemTool } from "@photo-clusters/core/test/system-tool";
import { gridHeic } from "../../test/heic-grid.ts";
import { decodePhoto, smallImage } from "./small-image.ts";

const p = mobilenetV2Int8.input.preprocessing;
const PHOTO = readFileSync(join(import.meta.dirname, "../../../../../shared/data/dev-photos/4aaa68e8.jpg"));
const tmp = mkdtempSync(join(tmpdir(), "heic-grid-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Debian's heif-enc (libheif-examples) makes real HEVC-coded HEIC files; CI installs it. */
const heifEnc = systemTool("heif-enc", "apt-get install libheif-examples") !== null;
/**
 * The photo at half an iPhone's 4032×3024: 4×3 tiles of 512 on a 2048×1536 canvas, so the grid's
 * output size crops padding off the right and bottom tiles, as on an iPhone.
 */
const pixels = async () => {
  const { data, info } = await sharp(PHOTO).resize(2016, 1512, { fit: "fill" }).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
};
const jpeg = (source: { data: Uint8Array; width: number; height: number }) =>
  sharp(source.data, { raw: { width: source.width, height: source.height, channels: 3 } }).jpeg({ quality: 95 });
/** The model's input as RGB, from the lossless WebP smallImage sends. */
const input = async (bytes: Uint8Array) =>
  sharp((await smallImage(bytes, p)).bytes)
    .removeAlpha()
    .raw()
    .toBuffer();
/** Mean absolute difference of two same-sized RGB buffers, in levels of 255. */
function meanDifference(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

describe.skipIf(!heifEnc)("an iPhone-style grid HEIC", () => {
  it("decodes an iPhone-style grid of 512-pixel tiles to the same model input as the photo's JPEG", async () => {
    // Prepare
    const photo = await pixels();
    const grid = await gridHeic(photo, { tile: 512, dir: tmp });

    // Act
    const small = await smallImage(grid, p);
    const decoded = await decodePhoto(grid);

    // Assess: the photo's own size, not the padded canvas, and the same picture within the HEVC encoder's loss
    expect(small.format).toBe("heic");
    expect(decoded).toMatchObject({ width: 2016, height: 1512 });
    expect(meanDifference(await input(small.bytes), await input(await jpeg(photo).toBuffer()))).toBeLessThan(6);
  });

  it("turns a grid by its irot once, even when EXIF says the same turn again", async () => {
    // Prepare: the pixels stored unturned, with irot 3 (90° clockwise) and EXIF orientation 6 (the same turn)
    const photo = await pixels();
    const grid = await gridHeic(photo, { tile: 512, irot: 3, exifOrientation: 6, dir: tmp });
    const [upright, unturned] = await Promise.all([jpeg(photo).rotate(90).toBuffer(), jpeg(photo).toBuffer()]);

    // Act
    const [fromGrid, fromUpright, fromUnturned] = await Promise.all([grid, upright, unturned].map(input));
    const decoded = await decodePhoto(grid);

    // Assess: the upright photo's input, neither the unturned one's nor one turned twice
    expect(meanDifference(fromGrid, fromUpright)).toBeLessThan(6);
    expect(meanDifference(fromGrid, fromUnturned)).toBeGreaterThan(10);
    expect(decoded.height).toBeGreaterThan(decoded.width);
  });
});
