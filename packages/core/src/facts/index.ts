export { captureMillis, captureTime, exifFieldCount } from "./exif.ts";
export { type DecodedForFacts, isPhotoFacts, knownFacts, PHOTO_FORMATS, type PhotoFacts, type PhotoFormat, photoFacts } from "./photo-facts.ts";
export { jpegQuality } from "./jpeg-quality.ts";
export { type Exposure, type PixelFacts, pixelFacts } from "./pixel-facts.ts";
export {
  type Best,
  type BestReason,
  colourShift,
  DEFAULT_DUPLICATE_BOUNDS,
  type DuplicateBounds,
  duplicateGroups,
  hammingDistance,
  hashClosePairs,
  suggestBest,
} from "./review.ts";
