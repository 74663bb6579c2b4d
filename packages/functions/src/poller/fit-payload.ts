import { type FetchedImage, PermanentRecordError } from "@photo-clusters/core/ingest/index";

/** Longest side of a downscaled photo: far above the model's 224-pixel input, so nothing it sees is lost. */
const DOWNSCALE_SIDE = 1024;

/**
 * Keeps an image under the endpoint's payload cap: small images go as they are; larger ones are
 * re-encoded as a JPEG no larger than DOWNSCALE_SIDE on its longest side, orientation applied.
 */
export async function fitPayload(image: FetchedImage, maxBytes: number): Promise<FetchedImage> {
  if (image.bytes.length <= maxBytes) return image;
  // Loaded here, not at the top: libvips is needed only for the rare photo over the cap, so the
  // poller's cold start does not pay for it. Outside the try: failing to load is not a bad image.
  const { default: sharp } = await import("sharp");
  try {
    const bytes = await sharp(image.bytes, { limitInputPixels: 100_000_000 })
      .rotate()
      .resize(DOWNSCALE_SIDE, DOWNSCALE_SIDE, { fit: "inside", withoutEnlargement: true })
      .jpeg({ quality: 90 })
      .toBuffer();
    return { bytes: new Uint8Array(bytes), contentType: "image/jpeg" };
  } catch (error) {
    throw new PermanentRecordError("invalid_image", `object is ${image.bytes.length} bytes and could not be decoded to downscale it`, error);
  }
}
