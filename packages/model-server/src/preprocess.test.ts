import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { mobilenetV2Int8 } from "@photo-clusters/core";
import { ImageTooLargeError, InvalidImageError, UnsupportedMediaTypeError } from "./errors.ts";
import { checkContentType, DEFAULT_LIMITS, inspectImage, normalise, preprocess } from "./preprocess.ts";
import { photo, pngClaiming } from "../test/testing.ts";

const p = mobilenetV2Int8.input.preprocessing;
const JPEG = "00d7a649.jpg";

describe("preprocess", () => {
  it("turns a photo into a normalised 3×224×224 tensor", async () => {
    // Act
    const tensor = await preprocess(photo(JPEG), p);
    // Assess
    expect(tensor.length).toBe(3 * 224 * 224);
    const lo = (0 - 0.485) / 0.229;
    const hi = (1 - 0.406) / 0.225;
    expect(tensor.reduce((a, b) => Math.min(a, b))).toBeGreaterThanOrEqual(lo - 1e-4);
    expect(tensor.reduce((a, b) => Math.max(a, b))).toBeLessThanOrEqual(hi + 1e-4);
  });

  it("takes an image already 224×224 (what the poller sends) as the input itself, pixel for pixel", async () => {
    // Prepare: 224×224 pixels, and the same pixels with one more column, which must be resized
    const pixels = await sharp(photo(JPEG)).resize(224, 224, { fit: "cover" }).raw().toBuffer();
    const exact = await sharp(pixels, { raw: { width: 224, height: 224, channels: 3 } })
      .webp({ lossless: true })
      .toBuffer();
    const wider = await sharp(pixels, { raw: { width: 224, height: 224, channels: 3 } })
      .extend({ right: 1, extendWith: "copy" })
      .png()
      .toBuffer();
    // Act
    const [fromExact, fromWider] = await Promise.all([preprocess(exact, p), preprocess(wider, p)]);
    // Assess
    expect(fromExact).toEqual(normalise(pixels, p));
    expect(fromWider).not.toEqual(normalise(pixels, p));
  });

  it("gives three channels for greyscale and transparent images", async () => {
    // Prepare
    const grey = await sharp(photo(JPEG)).greyscale().png().toBuffer();
    const withAlpha = await sharp(photo(JPEG)).ensureAlpha(0.5).png().toBuffer();
    // Act + Assess
    expect((await preprocess(grey, p)).length).toBe(3 * 224 * 224);
    expect((await preprocess(withAlpha, p)).length).toBe(3 * 224 * 224);
  });

  it("refuses an empty body", async () => {
    await expect(preprocess(new Uint8Array(0), p)).rejects.toThrow(new InvalidImageError("the request body is empty; send the image bytes"));
  });

  it("refuses text saved as .jpg", async () => {
    const error = await preprocess(new TextEncoder().encode("this is not a photo, just text in a .jpg file"), p).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidImageError);
    expect((error as InvalidImageError).message).toMatch(/not a readable image/);
  });

  it("refuses a truncated JPEG", async () => {
    const bytes = photo(JPEG);
    const error = await preprocess(bytes.subarray(0, bytes.length >> 1), p).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidImageError);
    expect((error as InvalidImageError).message).toMatch(/truncated or corrupt/);
  });

  it("refuses a 20000×20000 PNG from its header, without decoding it", async () => {
    // Prepare
    const bomb = pngClaiming(20_000, 20_000);
    // Act
    const error = await preprocess(bomb, p).catch((e: unknown) => e);
    // Assess: refused by the size its header declares (its pixel data is a few bytes)
    expect(error).toBeInstanceOf(ImageTooLargeError);
    expect((error as Error).message).toBe("the image is 20000×20000 (400.0 MP); the limit is 50.0 MP");
    expect((await inspectImage(pngClaiming(300, 200), DEFAULT_LIMITS)).width).toBe(300);
  });

  it("refuses bytes over the limit", async () => {
    const error = await preprocess(photo(JPEG), p, { maxBytes: 1024, maxPixels: 1e9 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageTooLargeError);
    expect((error as Error).message).toMatch(/the limit is 0\.0 MB/);
  });
});

describe("checkContentType", () => {
  it("accepts image types, octet-stream and a missing type", () => {
    for (const type of [undefined, "", "image/jpeg", "image/png; charset=binary", "IMAGE/WEBP", "application/x-image", "application/octet-stream"]) {
      expect(() => checkContentType(type)).not.toThrow();
    }
  });

  it("refuses a type that cannot hold an image", () => {
    expect(() => checkContentType("text/plain")).toThrow(UnsupportedMediaTypeError);
    expect(() => checkContentType("application/json")).toThrow(/Content-Type "application\/json" is not an image/);
  });
});
