import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { fitPayload } from "./fit-payload.ts";

describe("fitPayload", () => {
  it("sends a photo under the cap as it is, and re-encodes one over it as a JPEG of at most 1024 px that fits", async () => {
    // Prepare: noise compresses badly, so 2400×1800 at quality 100 is several MB
    const big = await sharp({ create: { width: 2400, height: 1800, channels: 3, background: "#808080", noise: { type: "gaussian", mean: 128, sigma: 60 } } })
      .jpeg({ quality: 100 })
      .toBuffer();
    const small = { bytes: new Uint8Array(big.subarray(0, 10)), contentType: "image/jpeg" };

    // Act
    const fitted = await fitPayload({ bytes: new Uint8Array(big), contentType: "image/jpeg" }, 4_000_000);

    // Assert
    expect(big.length).toBeGreaterThan(4_000_000);
    expect(await fitPayload(small, 4_000_000)).toBe(small);
    expect(fitted.bytes.length).toBeLessThanOrEqual(4_000_000);
    expect(fitted.contentType).toBe("image/jpeg");
    expect(await sharp(fitted.bytes).metadata()).toMatchObject({ format: "jpeg", width: 1024, height: 768 });
  });
});
