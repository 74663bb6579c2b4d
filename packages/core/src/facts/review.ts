/**
 * What to do about a cluster: which photo to keep (`best`) and which are the same picture
 * (`duplicates`), from each photo's facts. Both are suggestions for a person to confirm.
 *
 * The best shot, among the photos that have facts, is the largest file among those without a flaw:
 * 1. the most pixels, within 10% (a downscaled or cropped copy lost detail that cannot come back);
 * 2. exposed like the rest: at most 5% more of the frame clipped to black or white than the median
 *    photo, and a mean level within 0.12 of the median's (a scene white in every frame costs none);
 * 3. in focus: sharpness at least 70% of the sharpest's (of those left);
 * 4. not noisy: noise at most 1.5 times that of the sharpest frames (within 90% of the sharpest),
 *    plus a quarter level: a blurred frame's smoothing hides noise, so it sets no floor;
 * 5. not recompressed: a JPEG saved at a lower quality than another (by its quantization table, 1
 *    point of tolerance) is a copy; other formats count as not recompressed;
 * 6. then the largest file (the least compressed of what is left), the earlier capture, the order given.
 * "Largest file" alone, as Immich suggests, picks the noisiest frame of a burst: noise does not compress.
 */
import type { PhotoFacts } from "./photo-facts.ts";
import { captureMillis } from "./exif.ts";

/** Why a photo was suggested: the criteria on which it leads the cluster. */
export type BestReason = "most_pixels" | "sharpest" | "least_clipped" | "least_noisy" | "least_compressed" | "largest_file" | "earliest";

export interface Best {
  /** Index into the photos given. */
  index: number;
  reasons: BestReason[];
}

const PIXEL_TOLERANCE = 0.9;
const FOCUS_BAND = 0.7;
const SHARP_BAND = 0.9;
const NOISE_RATIO = 1.5;
const NOISE_ALLOWANCE = 0.25 / 255;
const QUALITY_TOLERANCE = 1;
const CLIP_ALLOWANCE = 0.05;
const MEAN_ALLOWANCE = 0.12;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
};

const clipped = (f: PhotoFacts) => f.exposure.shadows + f.exposure.highlights;
/** Lossless and not-JPEG formats rank above any JPEG quality. */
const compression = (f: PhotoFacts) => f.jpegQuality ?? 101;
const max = (values: number[]) => values.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
const min = (values: number[]) => values.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY);

/** The suggested keeper among `facts` (null entries are photos stored without facts); null when none has facts. */
export function suggestBest(facts: ReadonlyArray<PhotoFacts | null>): Best | null {
  const known = facts.flatMap((f, index) => (f ? [{ f, index }] : []));
  if (known.length === 0) return null;
  const maxPixels = max(known.map(({ f }) => f.width * f.height));
  const time = (f: PhotoFacts) => (f.takenAt ? captureMillis(f.takenAt) : Number.POSITIVE_INFINITY);
  const large = known.filter(({ f }) => f.width * f.height >= PIXEL_TOLERANCE * maxPixels);
  const typicalClipping = median(large.map(({ f }) => clipped(f)));
  const typicalMean = median(large.map(({ f }) => f.exposure.mean));
  const usual = large.filter(({ f }) => clipped(f) <= typicalClipping + CLIP_ALLOWANCE && Math.abs(f.exposure.mean - typicalMean) <= MEAN_ALLOWANCE);
  const exposed = usual.length > 0 ? usual : large;
  const sharpest = max(exposed.map(({ f }) => f.sharpness));
  const focused = exposed.filter(({ f }) => f.sharpness >= FOCUS_BAND * sharpest);
  // The noise floor of the sharpest frames: a blurred frame's smoothing hides noise, it is not less noisy.
  const leastNoise = min(focused.filter(({ f }) => f.sharpness >= SHARP_BAND * sharpest).map(({ f }) => f.noise));
  const clean = focused.filter(({ f }) => f.noise <= NOISE_RATIO * leastNoise + NOISE_ALLOWANCE);
  const leastCompressed = max(clean.map(({ f }) => compression(f)));
  const [winner] = clean
    .filter(({ f }) => compression(f) >= leastCompressed - QUALITY_TOLERANCE)
    .sort((x, y) => y.f.bytes - x.f.bytes || time(x.f) - time(y.f) || x.index - y.index);
  const f = winner.f;
  const leads = (value: (f: PhotoFacts) => number, tolerance = 0) => known.length > 1 && value(f) >= max(known.map((k) => value(k.f))) - tolerance;
  const reasons: BestReason[] = [];
  if (leads((x) => x.width * x.height, (1 - PIXEL_TOLERANCE) * maxPixels)) reasons.push("most_pixels");
  if (leads((x) => x.sharpness)) reasons.push("sharpest");
  if (leads((x) => -clipped(x), 0.005)) reasons.push("least_clipped");
  if (leads((x) => -x.noise, NOISE_ALLOWANCE)) reasons.push("least_noisy");
  if (leads(compression, QUALITY_TOLERANCE) && known.some((k) => compression(k.f) < compression(f) - QUALITY_TOLERANCE)) reasons.push("least_compressed");
  if (leads((x) => x.bytes)) reasons.push("largest_file");
  if (f.takenAt && leads((x) => -time(x))) reasons.push("earliest");
  return { index: winner.index, reasons };
}

/**
 * Two photos are the same picture when their bytes are identical, or when all three agree: their
 * perceptual hashes differ in at most `maxHashDistance` bits, their embeddings' cosine is at least
 * `minCosine`, and their mean colour (each channel's mean, and the mean chroma) moved by at most
 * `maxColourShift`. Hash and embedding alone call a colour edit the same picture: both look past
 * colour. The defaults were chosen on the dev photos' pairs with MobileNetV2 (`eval` prints the
 * grid; docs/similarity.md): another model's cosines want measuring again.
 */
export interface DuplicateBounds {
  maxHashDistance: number;
  /** Raw cosine of the two embeddings. */
  minCosine: number;
  maxColourShift: number;
}

export const DEFAULT_DUPLICATE_BOUNDS: DuplicateBounds = { maxHashDistance: 4, minCosine: 0.95, maxColourShift: 0.005 };

/** How far two photos' mean colour moved: the largest change of a channel's mean or of the mean chroma. */
export function colourShift(a: PhotoFacts, b: PhotoFacts): number {
  return Math.max(Math.abs(a.chroma - b.chroma), ...a.rgb.map((x, k) => Math.abs(x - b.rgb[k])));
}

/** Most pairs of close hashes one cluster's check looks at: thousands of photos with one hash (a flat or black frame) would otherwise cost millions. */
export const MAX_HASH_PAIRS = 100_000;

const popcount = (x: number) => {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
};

/** Bits that differ between two perceptual hashes (0–64). */
export function hammingDistance(a: string, b: string): number {
  const half = (h: string, at: number) => Number.parseInt(h.slice(at, at + 8), 16);
  return popcount(half(a, 0) ^ half(b, 0)) + popcount(half(a, 8) ^ half(b, 8));
}

/**
 * Pairs of photos whose perceptual hashes differ in at most `maxHashDistance` bits (i < j), found
 * without comparing every pair: split into maxHashDistance + 1 chunks, two such hashes agree exactly
 * on at least one chunk (pigeonhole), so only photos sharing a chunk are compared, and a pair is
 * counted at the first chunk its hashes share. At most `limit` pairs are looked at.
 */
export function hashClosePairs(
  facts: ReadonlyArray<PhotoFacts | null>,
  maxHashDistance = DEFAULT_DUPLICATE_BOUNDS.maxHashDistance,
  limit = MAX_HASH_PAIRS,
): Array<[number, number]> {
  // At least two chunks, so a chunk fits 32 bits; more chunks than maxHashDistance + 1 keep the pigeonhole true.
  const chunks = Math.min(64, Math.max(2, maxHashDistance + 1));
  const width = Math.ceil(64 / chunks);
  const n = facts.length;
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  // keys[c * n + i]: chunk c of photo i's hash (-1 without facts).
  const keys = new Float64Array(chunks * n).fill(-1);
  /** Bits [start, start + w) of the 64-bit hash hi·2³² + lo, w ≤ 32. */
  const bits = (h: number, l: number, start: number, w: number) => {
    const mask = w === 32 ? 0xffffffff : (1 << w) - 1;
    if (start >= 32) return (h >>> (start - 32)) & mask;
    if (start + w <= 32) return (l >>> start) & mask;
    return ((l >>> start) | (h << (32 - start))) & mask;
  };
  facts.forEach((f, i) => {
    if (!f) return;
    hi[i] = Number.parseInt(f.phash.slice(0, 8), 16);
    lo[i] = Number.parseInt(f.phash.slice(8), 16);
    for (let c = 0; c < chunks; c++) keys[c * n + i] = bits(hi[i], lo[i], c * width, Math.min(width, 64 - c * width)) >>> 0;
  });
  const pairs: Array<[number, number]> = [];
  let looked = 0;
  for (let c = 0; c < chunks; c++) {
    const buckets = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      const key = keys[c * n + i];
      if (key < 0) continue;
      const bucket = buckets.get(key);
      if (bucket) bucket.push(i);
      else buckets.set(key, [i]);
    }
    for (const bucket of buckets.values())
      for (let x = 0; x < bucket.length; x++)
        for (let y = x + 1; y < bucket.length; y++) {
          const i = bucket[x];
          const j = bucket[y];
          let earlier = false;
          for (let e = 0; e < c && !earlier; e++) earlier = keys[e * n + i] === keys[e * n + j];
          if (earlier) continue;
          if (++looked > limit) return pairs;
          if (popcount(hi[i] ^ hi[j]) + popcount(lo[i] ^ lo[j]) <= maxHashDistance) pairs.push([i, j]);
        }
  }
  return pairs;
}

/**
 * Groups of the same picture among `facts` (indexes, each group in the order given, groups by their
 * first index); photos without facts are in none. `cosine(i, j)` (i < j) is asked only of pairs whose
 * hashes are close, and may return null when it is not known (below the graph's floor: not the same).
 */
export function duplicateGroups(
  facts: ReadonlyArray<PhotoFacts | null>,
  cosine: (i: number, j: number) => number | null,
  bounds: DuplicateBounds = DEFAULT_DUPLICATE_BOUNDS,
): number[][] {
  const parent = facts.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  const union = (i: number, j: number) => {
    const [a, b] = [find(i), find(j)];
    if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
  };
  const bySha = new Map<string, number>();
  facts.forEach((f, i) => {
    if (!f) return;
    const same = bySha.get(f.sha256);
    if (same === undefined) bySha.set(f.sha256, i);
    else union(same, i);
  });
  for (const [i, j] of hashClosePairs(facts, bounds.maxHashDistance)) {
    if (find(i) === find(j) || colourShift(facts[i]!, facts[j]!) > bounds.maxColourShift) continue;
    const c = cosine(i, j);
    if (c !== null && c >= bounds.minCosine) union(i, j);
  }
  const groups = new Map<number, number[]>();
  facts.forEach((f, i) => {
    if (!f) return;
    const root = find(i);
    const group = groups.get(root);
    if (group) group.push(i);
    else groups.set(root, [i]);
  });
  return [...groups.values()].filter((g) => g.length > 1).sort((x, y) => x[0] - y[0]);
}
