import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gaussian, mobilenetV2Int8, prng } from "@photo-clusters/core";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";
import { systemTool } from "@photo-clusters/core/test/system-tool";
import { decodePhoto, smallImage } from "./small-image.ts";

const p = mobilenetV2Int8.input.preprocessing;
const PHOTO = readFileSync(join(import.meta.dirname, "../../../../../shared/data/dev-photos/4aaa68e8.jpg"));
const tmp = mkdtempSync(join(tmpdir(), "small-image-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Debian's heif-enc (libheif-examples) makes real HEVC-coded HEIC files; CI installs it. */
const heifEnc = systemTool("heif-enc", "apt-get install libheif-examples") !== null;
function heic(jpeg: Uint8Array, name = "photo"): Buffer {
  writeFileSync(join(tmp, `${name}.jpg`), jpeg);
  execFileSync("heif-enc", ["-q", "80", "-o", join(tmp, `${name}.heic`), join(tmp, `${name}.jpg`)], { stdio: "ignore" });
  return readFileSync(join(tmp, `${name}.heic`));
}
const rgb = async (bytes: Uint8Array) => sharp(bytes).removeAlpha().raw().toBuffer();
/** Mean absolute difference of two same-sized RGB buffers, in levels of 255. */
function meanDifference(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

describe("smallImage", () => {
  it("sends the model's 224×224 input as a lossless WebP of tens of KB instead of a 12 MP photo", async () => {
    const phone = await sharp(PHOTO).resize(4032, 3024, { fit: "fill" }).jpeg({ quality: 92 }).toBuffer();

    const small = await smallImage(phone, p);

    expect(small).toMatchObject({ contentType: "image/webp", format: "jpeg" });
    expect(await sharp(small.bytes).metadata()).toMatchObject({ format: "webp", width: 224, height: 224 });
    expect(small.bytes.length).toBeLessThan(100_000);
    expect(phone.length).toBeGreaterThan(500_000);
  });

  it("turns a photo by its EXIF orientation before it cuts the input", async () => {
    // Prepare: the same pixels stored sideways with orientation 6 (display turned 90° clockwise)
    const upright = await sharp(PHOTO).rotate(90).jpeg({ quality: 95 }).toBuffer();
    const sideways = await sharp(PHOTO).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const other = await sharp(PHOTO).jpeg({ quality: 95 }).toBuffer();

    // Act
    const [a, b, c] = await Promise.all([upright, sideways, other].map(async (bytes) => rgb((await smallImage(bytes, p)).bytes)));
    const photo = await decodePhoto(sideways);

    // Assess: the sideways file gives the upright photo's input, not the unturned one's
    expect(meanDifference(a, b)).toBeLessThan(2);
    expect(meanDifference(b, c)).toBeGreaterThan(10);
    expect(photo.height).toBeGreaterThan(photo.width);
  });

  it.skipIf(!heifEnc)("decodes an HEVC-coded HEIC, which sharp alone cannot, to the same input as its JPEG", async () => {
    // Prepare
    const file = heic(PHOTO);
    await expect(sharp(file).raw().toBuffer()).rejects.toThrow();

    // Act
    const [fromHeic, fromJpeg] = await Promise.all([smallImage(file, p), smallImage(PHOTO, p)]);

    // Assess: the same picture, within the HEVC encoder's loss
    expect(fromHeic.format).toBe("heic");
    expect(meanDifference(await rgb(fromHeic.bytes), await rgb(fromJpeg.bytes))).toBeLessThan(6);
  });

  it("decodes AVIF, and a photo by what its bytes are, not by its name", async () => {
    const avif = await sharp(PHOTO).avif({ quality: 60 }).toBuffer();
    const png = await sharp(PHOTO).png().toBuffer();

    expect((await smallImage(avif, p)).format).toBe("avif");
    expect((await smallImage(png, p)).format).toBe("png");
  });

  it("refuses a file that is no photo, a truncated photo and a pixel bomb, each with its own code", async () => {
    const text = new TextEncoder().encode("these are my holiday notes, not a photo\n");
    const truncated = PHOTO.subarray(0, PHOTO.length >> 1);
    const bomb = await sharp({ create: { width: 8000, height: 7000, channels: 3, background: "#000" } })
      .png({ compressionLevel: 9 })
      .toBuffer();

    await expect(smallImage(text, p)).rejects.toMatchObject({ code: "not_an_image", retryable: false });
    await expect(smallImage(truncated, p)).rejects.toMatchObject({ code: "invalid_image", message: expect.stringMatching(/JPEG .*truncated or corrupt/) });
    await expect(smallImage(bomb, p)).rejects.toMatchObject({ code: "too_large", message: "the photo is 8000×7000, over 50 megapixels" });
  });
});

describe("photo facts from the same decode", () => {
  const ORIGINAL = readFileSync(join(import.meta.dirname, "../../../../../shared/data/dev-photos/09fe9adb.jpg"));
  const taken = { DateTimeOriginal: "2024:05:06 07:08:09", SubSecTimeOriginal: "42", OffsetTimeOriginal: "+02:00" };

  it("reads the capture time, and the size as the photo is seen after its EXIF orientation", async () => {
    // Prepare: 1024×768 pixels stored sideways (orientation 6), with a capture time
    const sideways = await sharp(ORIGINAL)
      .withExif({ IFD0: { Make: "Phone" }, IFD2: taken })
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toBuffer();

    // Act
    const { facts } = await smallImage(sideways, p);

    // Assess
    expect(facts).toMatchObject({ takenAt: "2024-05-06T07:08:09.420+02:00", width: 768, height: 1024, bytes: sideways.length, format: "jpeg" });
    expect(facts?.sha256).toBe(createHash("sha256").update(sideways).digest("hex"));
    expect(facts?.phash).toMatch(/^[0-9a-f]{16}$/);
  });

  it("has no capture time for a photo without EXIF, and the same hashes for the same bytes", async () => {
    const [a, b] = await Promise.all([smallImage(ORIGINAL, p), smallImage(Buffer.from(ORIGINAL), p)]);

    expect(a.facts?.takenAt).toBeNull();
    expect(a.facts).toEqual(b.facts);
  });

  it.skipIf(!heifEnc)("reads an HEIC's capture time, which sharp reads though it cannot decode the pixels", async () => {
    const withTime = await sharp(ORIGINAL)
      .withExif({ IFD0: { Make: "Phone" }, IFD2: taken })
      .jpeg({ quality: 95 })
      .toBuffer();

    const { facts } = await smallImage(heic(withTime, "taken"), p);

    expect(facts).toMatchObject({ takenAt: "2024-05-06T07:08:09.420+02:00", width: 1024, height: 768, format: "heic" });
  });

  it("ranks a clean frame's sharpness above its blurred, shaken and noisy copies", async () => {
    // Prepare: a burst of one scene, the same size and encoder; noise as a dim room's sensor gives it
    const { data, info } = await sharp(ORIGINAL).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const raw = (pixels: Buffer) => sharp(pixels, { raw: { width: info.width, height: info.height, channels: 3 } });
    const random = prng(7);
    const noisy = Buffer.from(data.map((v) => Math.max(0, Math.min(255, Math.round(v + 14 * gaussian(random))))));
    const shake = { width: 13, height: 3, kernel: [...Array(13).fill(0), ...Array(13).fill(1), ...Array(13).fill(0)], scale: 13 };
    const frames = {
      clean: await raw(data).jpeg({ quality: 90 }).toBuffer(),
      blurred: await raw(data).blur(3).jpeg({ quality: 90 }).toBuffer(),
      shaken: await raw(data).convolve(shake).jpeg({ quality: 90 }).toBuffer(),
      noisy: await raw(noisy).jpeg({ quality: 90 }).toBuffer(),
    };

    // Act
    const sharpness = Object.fromEntries(await Promise.all(Object.entries(frames).map(async ([k, b]) => [k, (await smallImage(b, p)).facts?.sharpness])));

    // Assess: noise makes the largest file of the four, and still not the sharpest frame
    expect(sharpness.clean).toBeGreaterThan(sharpness.blurred);
    expect(sharpness.clean).toBeGreaterThan(sharpness.shaken);
    expect(sharpness.clean).toBeGreaterThan(sharpness.noisy);
    expect(frames.noisy.length).toBeGreaterThan(frames.clean.length);
  });
});
