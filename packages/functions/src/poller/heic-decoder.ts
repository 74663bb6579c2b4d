/**
 * HEIC (HEVC-coded HEIF, the iPhone camera's default) to RGB with libheif compiled to WebAssembly
 * (libheif-js): sharp's prebuilt libvips reads AVIF but has no HEVC decoder. WebAssembly runs the
 * same on Lambda's arm64 as here. Why this decoder and not another: docs/edge.md.
 *
 * libheif applies the HEIF transforms (irot, imir, clap) itself, which is how iPhones store a
 * photo's orientation; an EXIF orientation inside a HEIF file is informational and must not be
 * applied again. Grid images (iPhones write 512×512 tiles) are assembled by libheif.
 */
import { PermanentRecordError } from "@photo-clusters/core";

export interface DecodedHeic {
  /** Interleaved RGB, width × height × 3, upright. */
  rgb: Uint8Array;
  width: number;
  height: number;
}

interface Channel {
  id: number;
  width: number;
  height: number;
  stride: number;
  data: Uint8Array;
}
type Handle = object & { code?: number };
interface LibHeif {
  heif_context_alloc(): object;
  heif_context_free(context: object): void;
  heif_context_read_from_memory(context: object, bytes: Uint8Array): { code: unknown; message: string };
  heif_js_context_get_primary_image_handle(context: object): Handle;
  heif_image_handle_get_width(handle: Handle): number;
  heif_image_handle_get_height(handle: Handle): number;
  heif_image_handle_release(handle: Handle): void;
  heif_js_decode_image2(handle: Handle, colorspace: unknown, chroma: unknown): { code?: number; message?: string; image: object; channels: Channel[] };
  heif_image_release(image: object): void;
  heif_error_code: { heif_error_Ok: unknown };
  heif_colorspace: { heif_colorspace_RGB: unknown };
  heif_chroma: { heif_chroma_interleaved_RGB: unknown };
  heif_channel: { heif_channel_interleaved: number };
}

let loaded: Promise<LibHeif> | undefined;

/** The WebAssembly module, compiled once per process on the first HEIC. */
function libheif(): Promise<LibHeif> {
  loaded ??= import("libheif-js/wasm-bundle").then((m) => ((m as { default?: LibHeif }).default ?? m) as LibHeif);
  return loaded;
}

export async function decodeHeic(bytes: Uint8Array, maxPixels: number): Promise<DecodedHeic> {
  const heif = await libheif();
  const context = heif.heif_context_alloc();
  try {
    const read = heif.heif_context_read_from_memory(context, bytes);
    if (read.code !== heif.heif_error_code.heif_error_Ok) throw new PermanentRecordError("invalid_image", `the HEIC photo could not be read: ${read.message}`);
    const handle = heif.heif_js_context_get_primary_image_handle(context);
    if (!handle || handle.code) throw new PermanentRecordError("invalid_image", "the HEIC file holds no primary image");
    try {
      const width = heif.heif_image_handle_get_width(handle);
      const height = heif.heif_image_handle_get_height(handle);
      if (width * height > maxPixels) {
        throw new PermanentRecordError("too_large", `the HEIC photo is ${width}×${height}, over ${maxPixels / 1e6} megapixels`);
      }
      // RGB, not RGBA: photos carry no alpha, and a fourth channel made sharp's work on 12 MP three
      // times longer (about 100 against 30 ms here).
      const decoded = heif.heif_js_decode_image2(handle, heif.heif_colorspace.heif_colorspace_RGB, heif.heif_chroma.heif_chroma_interleaved_RGB);
      if (!decoded || decoded.code) throw new PermanentRecordError("invalid_image", `the HEIC photo could not be decoded: ${decoded?.message ?? "no image"}`);
      try {
        const plane = decoded.channels.find((c) => c.id === heif.heif_channel.heif_channel_interleaved);
        if (!plane) throw new PermanentRecordError("invalid_image", "the HEIC photo decoded to no RGB plane");
        return { rgb: packed(plane), width: plane.width, height: plane.height };
      } finally {
        heif.heif_image_release(decoded.image);
      }
    } finally {
      heif.heif_image_handle_release(handle);
    }
  } finally {
    heif.heif_context_free(context);
  }
}

/** The plane's rows without their stride padding, copied out of the WebAssembly heap. */
function packed(plane: Channel): Uint8Array {
  const row = plane.width * 3;
  if (plane.stride === row) return plane.data.slice(0, row * plane.height);
  const out = new Uint8Array(row * plane.height);
  for (let y = 0; y < plane.height; y++) out.set(plane.data.subarray(y * plane.stride, y * plane.stride + row), y * row);
  return out;
}
