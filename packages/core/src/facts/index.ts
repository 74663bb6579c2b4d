export { captureMillis, captureTime, exifFieldCount } from "./exif.ts";
export { type DecodedForFacts, isPhotoFacts, knownFacts, PHOTO_FORMATS, type PhotoFacts, type PhotoFormat, photoFacts } from "./photo-facts.ts";
export { jpegQuality } from "./jpeg-quality.ts";
export { type Exposure, hammingDistance, type PixelFacts, pixelFacts } from "./pixel-facts.ts";
export {
  type Best,
  type BestReason,
  colourShift,
  DEFAULT_DUPLICATE_BOUNDS,
  type DuplicateBounds,
  duplicateGroups,
  hashClosePairs,
  suggestBest,
} from "./review.ts";
