/**
 * The poller's one decode of a photo: whatever the phone wrote (JPEG, PNG, WebP, HEIC/HEIF, AVIF)
 * becomes the model's input itself, the `size`×`size` pixels the model server would cut from the
 * whole photo (core's modelInputBox), sent as a lossless WebP: about 60 KB instead of the
 * original's MBs, and the same embedding as the whole photo's (cosine 1.0000 on every dev photo). Why lossless: even a
 * quality-100 JPEG of those pixels moves an int8 model's embedding to a cosine of about 0.98
 * (docs/edge.md has the measurements).
 *
 * The same decode gives the photo's facts (core's photoFacts): its EXIF capture time, size and
 * hashes, and sharpness and exposure measured on the model's input pixels.
 *
 * JPEG is decoded with libvips's shrink-on-load (a 12 MP photo decodes at a fraction of its size),
 * PNG, WebP and AVIF by sharp too. HEVC-coded HEIC, which sharp's prebuilt libvips cannot read,
 * goes through libheif compiled to WebAssembly (heic-decoder.ts), loaded on the first HEIC only.
 */
import { type FetchedImage, modelInputBox, PermanentRecordError, type PhotoFacts, photoFacts, type Preprocessing } from "@photo-clusters/core";
import sharp from "sharp";
import { decodeHeic } from "./heic-decoder.ts";
import { type PhotoFormat, sniffFormat } from "./sniff-format.ts";

// Every photo is new: libvips's operation cache would never hit.
sharp.cache(false);

/** Photos declaring more pixels than this are refused before they are decoded (a 48 MP phone sensor fits). */
export const MAX_PIXELS = 50_000_000;

export interface DecodedPhoto {
  /** The photo, upright, as a sharp pipeline not yet run (a JPEG still shrinks on load). */
  image: sharp.Sharp;
  /** What the bytes turned out to be, whatever the name says. */
  format: PhotoFormat;
  /** Upright size in pixels. */
  width: number;
  height: number;
  /** The EXIF block, when the file has one. */
  exif?: Uint8Array;
}

/** Opens a photo's bytes by what they are; throws PermanentRecordError (not_an_image, invalid_image, too_large) for what will never decode. */
export async function decodePhoto(bytes: Uint8Array, maxPixels = MAX_PIXELS): Promise<DecodedPhoto> {
  const format = sniffFormat(bytes);
  if (!format) {
    throw new PermanentRecordError("not_an_image", "the file's bytes are not a photo (expected JPEG, PNG, WebP, HEIC, HEIF or AVIF)");
  }
  try {
    // The header alone first: a pixel bomb is refused by its declared size, before any decode. For
    // HEIC, whose pixels sharp cannot decode, it still reads the EXIF.
    const meta = await sharp(bytes, { limitInputPixels: false })
      .metadata()
      .catch((error) => {
        if (format === "heic") return { exif: undefined } as sharp.Metadata;
        throw error;
      });
    if (format === "heic") {
      const heic = await decodeHeic(bytes, maxPixels);
      const image = sharp(heic.rgb, { raw: { width: heic.width, height: heic.height, channels: 3 } });
      return { image, format, width: heic.width, height: heic.height, exif: meta.exif };
    }
    if (!meta.width || !meta.height) throw new Error("no dimensions");
    if (meta.width * meta.height > maxPixels) {
      throw new PermanentRecordError("too_large", `the photo is ${meta.width}×${meta.height}, over ${maxPixels / 1e6} megapixels`);
    }
    const swapped = (meta.orientation ?? 1) >= 5;
    const image = sharp(bytes, { limitInputPixels: maxPixels, failOn: "error" }).rotate();
    return { image, format, width: swapped ? meta.height : meta.width, height: swapped ? meta.width : meta.height, exif: meta.exif };
  } catch (error) {
    if (error instanceof PermanentRecordError) throw error;
    throw new PermanentRecordError("invalid_image", `the ${format.toUpperCase()} photo could not be decoded (truncated or corrupt)`, error);
  }
}

/** A photo's bytes → the model's input pixels as a lossless WebP, for the endpoint, and the photo's facts. */
/** The photo's facts; none (never a failed photo) if measuring them fails. */
function factsOf(decoded: Parameters<typeof photoFacts>[0]): PhotoFacts | undefined {
  try {
    return photoFacts(decoded);
  } catch {
    return undefined;
  }
}

export async function smallImage(bytes: Uint8Array, p: Preprocessing): Promise<FetchedImage & { format: PhotoFormat; facts?: PhotoFacts }> {
  const photo = await decodePhoto(bytes);
  const box = modelInputBox(photo.width, photo.height, p);
  try {
    // The model server's own steps, in its order (model-server/src/preprocess.ts), in one pipeline
    // (the same steps split in two moved a few pixels by one level, and an int8 model's embedding
    // with them). Its raw pixels are the facts' too: sharpness, exposure and hash of what the model sees.
    let image = photo.image.flatten({ background: "#ffffff" }).toColourspace("srgb");
    if (box)
      image = image.resize(box.width, box.height, { fit: "fill", kernel: "linear" }).extract({ left: box.left, top: box.top, width: p.size, height: p.size });
    const { data, info } = await image.removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const pixels = new Uint8Array(data.buffer, data.byteOffset, data.length);
    const facts = factsOf({ ...photo, bytes, small: { pixels, width: info.width, height: info.height } });
    const input = sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } });
    // Effort 0: a sixth of the default's CPU for about 15% more bytes.
    const out = await input.webp({ lossless: true, effort: 0 }).toBuffer();
    return { bytes: new Uint8Array(out.buffer, out.byteOffset, out.length), contentType: "image/webp", format: photo.format, facts };
  } catch (error) {
    throw new PermanentRecordError("invalid_image", `the ${photo.format.toUpperCase()} photo could not be decoded (truncated or corrupt)`, error);
  }
}
