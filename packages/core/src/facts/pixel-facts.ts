/**
 * What a photo's pixels say about it, from the model's input the poller already makes (224×224,
 * upright): how sharp and how noisy it is, how it is exposed, its mean colour, and a 64-bit
 * perceptual hash. 3–4 ms a photo in plain JavaScript, warm (`pnpm bench --edge` measures the facts
 * in all: docs/edge.md).
 *
 * Sharpness is a Laplacian's spread after a 3×3 median, less what sensor noise still adds, over the
 * image's own contrast:
 * - the median removes most pixel noise and keeps edges, so a noisy frame does not look sharper
 *   than its clean twin (a plain variance of the Laplacian rises with noise: it ranks noise first);
 * - the noise that survives is estimated (Immerkær's mask, which cancels smooth gradients) and taken off;
 * - dividing by the image's standard deviation leaves exposure to the exposure facts: a darker or
 *   flatter frame of the same scene is not "less sharp", it is under-exposed.
 */

export interface Exposure {
  /** Mean luma in [0, 1]. */
  mean: number;
  /** Share of pixels at or below 2/255 (clipped shadows), in [0, 1]. */
  shadows: number;
  /** Share of pixels at or above 253/255 (clipped highlights), in [0, 1]. */
  highlights: number;
}

export interface PixelFacts {
  /** In [0, 1): 0 for a flat image, higher for crisper detail; compare photos of one scene. */
  sharpness: number;
  /** Sensor noise in [0, 1] (σ over 255), measured where the picture is flattest. */
  noise: number;
  exposure: Exposure;
  /** 64-bit DCT perceptual hash as 16 hex digits: near-identical pictures differ in few bits. */
  phash: string;
  /** Mean red, green and blue in [0, 1] (of an RGB image; the grey level thrice for a grey one): a colour edit moves them. */
  rgb: [number, number, number];
  /** Mean chroma (the largest channel less the smallest, over 255) in [0, 1]: a saturation edit moves it. */
  chroma: number;
}

/** Facts of an RGB (3 channels) or grey (1 channel) image, row-major, 8 bits a channel. */
export function pixelFacts(pixels: Uint8Array, width: number, height: number, channels: 1 | 3): PixelFacts {
  if (width < 1 || height < 1 || pixels.length < width * height * channels) throw new RangeError(`pixelFacts: ${width}×${height}×${channels} needs more bytes`);
  const colour = channels === 1 ? greyColour(pixels) : rgbColour(pixels, width * height);
  const { grey } = colour;
  const noise = noiseEstimates(grey, width, height);
  return {
    sharpness: round(sharpness(grey, width, height, noise.whole)),
    noise: round(noise.flat / 255),
    exposure: exposure(grey),
    phash: perceptualHash(grey, width, height),
    rgb: colour.rgb.map(round) as [number, number, number],
    chroma: round(colour.chroma),
  };
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;

interface Colour {
  grey: Uint8Array;
  rgb: [number, number, number];
  chroma: number;
}

/** Luma (BT.601 in fixed point: (77 R + 150 G + 29 B) / 256), the channels' means and the mean chroma, in one pass. */
function rgbColour(rgb: Uint8Array, n: number): Colour {
  const grey = new Uint8Array(n);
  let r = 0;
  let g = 0;
  let b = 0;
  let chroma = 0;
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    const R = rgb[p];
    const G = rgb[p + 1];
    const B = rgb[p + 2];
    grey[i] = (77 * R + 150 * G + 29 * B) >> 8;
    r += R;
    g += G;
    b += B;
    chroma += Math.max(R, G, B) - Math.min(R, G, B);
  }
  const scale = 1 / (n * 255);
  return { grey, rgb: [r * scale, g * scale, b * scale], chroma: chroma * scale };
}

function greyColour(grey: Uint8Array): Colour {
  let sum = 0;
  for (let i = 0; i < grey.length; i++) sum += grey[i];
  const level = sum / (grey.length * 255);
  return { grey, rgb: [level, level, level], chroma: 0 };
}

function exposure(grey: Uint8Array): Exposure {
  let sum = 0;
  let low = 0;
  let high = 0;
  for (let i = 0; i < grey.length; i++) {
    const v = grey[i];
    sum += v;
    if (v <= 2) low++;
    else if (v >= 253) high++;
  }
  const n = grey.length;
  return { mean: round(sum / n / 255), shadows: round(low / n), highlights: round(high / n) };
}

const NOISE_WEIGHT = 8;

function sharpness(grey: Uint8Array, w: number, h: number, sigma: number): number {
  if (w < 5 || h < 5) return 0;
  const med = median3(grey, w, h);
  // The Laplacian of the median image, away from the median's one-pixel border.
  let s1 = 0;
  let s2 = 0;
  let n = 0;
  for (let y = 2; y < h - 2; y++) {
    for (let x = 2, i = y * w + 2; x < w - 2; x++, i++) {
      const l = 4 * med[i] - med[i - 1] - med[i + 1] - med[i - w] - med[i + w];
      s1 += l;
      s2 += l * l;
      n++;
    }
  }
  const laplacianVariance = s2 / n - (s1 / n) ** 2;
  let sum = 0;
  let squares = 0;
  for (let i = 0; i < grey.length; i++) {
    const v = grey[i];
    sum += v;
    squares += v * v;
  }
  const sd = Math.sqrt(Math.max(0, squares / grey.length - (sum / grey.length) ** 2));
  // What noise still adds to the Laplacian's variance after the median, as a multiple of the
  // estimated σ²: any of 6, 8 and 10 ranked the clean frame above its noisy, blurred and shaken
  // copies on 52 of the 55 dev originals (2 and 4: 25 and 43; 12: 50), and the same on either half
  // of them alone; 8 is the middle. A flat image (sd under 2 levels) has no detail to speak of.
  if (sd < 2) return 0;
  const r = Math.sqrt(Math.max(0, laplacianVariance - NOISE_WEIGHT * sigma * sigma)) / sd;
  return r / (1 + r);
}

const BLOCK = 8;

/**
 * Immerkær's (1996) estimate of additive noise, from one mask that cancels edges and smooth gradients
 * to second order, over 8×8 blocks: `whole`, over every block, is what the sharpness takes off;
 * `flat`, the tenth percentile of the blocks, is noise where the picture has no detail (edges and
 * texture raise a block's estimate), so a blurred or sharpened frame has as little there as the
 * clean one, and a noisy one more. Both in grey levels.
 */
function noiseEstimates(g: Uint8Array, w: number, h: number): { whole: number; flat: number } {
  const blocks: number[] = [];
  const scale = Math.sqrt(Math.PI / 2) / (6 * BLOCK * BLOCK);
  let total = 0;
  for (let by = 1; by + BLOCK < h; by += BLOCK) {
    for (let bx = 1; bx + BLOCK < w; bx += BLOCK) {
      let sum = 0;
      for (let y = by; y < by + BLOCK; y++) {
        for (let x = bx, i = y * w + bx; x < bx + BLOCK; x++, i++) {
          const v = g[i - w - 1] - 2 * g[i - w] + g[i - w + 1] - 2 * g[i - 1] + 4 * g[i] - 2 * g[i + 1] + g[i + w - 1] - 2 * g[i + w] + g[i + w + 1];
          sum += v < 0 ? -v : v;
        }
      }
      total += sum;
      blocks.push(sum * scale);
    }
  }
  if (blocks.length === 0) return { whole: 0, flat: 0 };
  const whole = (total * scale) / blocks.length;
  blocks.sort((a, b) => a - b);
  return { whole, flat: blocks[Math.floor(blocks.length / 10)] };
}

/**
 * A 3×3 median (edges copied), by columns: each pixel's column of three is sorted once (low, middle,
 * high planes), and the median of nine is the median of the largest low, the middle middle and the
 * smallest high of three neighbouring columns (Smith's fast 3×3 median). About 5 ns a pixel.
 */
function median3(g: Uint8Array, w: number, h: number): Uint8Array {
  const out = Uint8Array.from(g);
  const lo = new Uint8Array(w * h);
  const mid = new Uint8Array(w * h);
  const hi = new Uint8Array(w * h);
  for (let y = 1; y < h - 1; y++) {
    for (let x = 0, i = y * w; x < w; x++, i++) {
      const a = g[i - w];
      const b = g[i];
      const c = g[i + w];
      const ab = Math.min(a, b);
      const AB = Math.max(a, b);
      lo[i] = Math.min(ab, c);
      hi[i] = Math.max(AB, c);
      mid[i] = Math.max(ab, Math.min(AB, c));
    }
  }
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1, i = y * w + 1; x < w - 1; x++, i++) {
      const l = Math.max(lo[i - 1], lo[i], lo[i + 1]);
      const u = Math.min(hi[i - 1], hi[i], hi[i + 1]);
      const m0 = mid[i - 1];
      const m1 = mid[i];
      const m2 = mid[i + 1];
      const m = Math.max(Math.min(m0, m1), Math.min(Math.max(m0, m1), m2));
      // The median of l, m and u.
      out[i] = Math.max(Math.min(l, m), Math.min(Math.max(l, m), u));
    }
  }
  return out;
}

const HASH_SIDE = 32;
/** cos((2x + 1) u π / 64) for u < 8, x < 32: the DCT rows the hash keeps. */
const DCT = Array.from({ length: 8 }, (_, u) => Float64Array.from({ length: HASH_SIDE }, (_, x) => Math.cos(((2 * x + 1) * u * Math.PI) / (2 * HASH_SIDE))));

/**
 * The classic pHash: the image averaged to 32×32, its 8×8 lowest DCT frequencies, one bit each for
 * being above their median (the DC term left out of the median, which would skew it).
 */
function perceptualHash(g: Uint8Array, w: number, h: number): string {
  const small = new Float64Array(HASH_SIDE * HASH_SIDE);
  for (let y = 0; y < HASH_SIDE; y++) {
    const y0 = Math.floor((y * h) / HASH_SIDE);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * h) / HASH_SIDE));
    for (let x = 0; x < HASH_SIDE; x++) {
      const x0 = Math.floor((x * w) / HASH_SIDE);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * w) / HASH_SIDE));
      let sum = 0;
      for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) sum += g[yy * w + xx];
      small[y * HASH_SIDE + x] = sum / ((y1 - y0) * (x1 - x0));
    }
  }
  // Separable: rows first (32 rows × 8 frequencies), then columns.
  const rows = new Float64Array(HASH_SIDE * 8);
  for (let y = 0; y < HASH_SIDE; y++)
    for (let u = 0; u < 8; u++) {
      let s = 0;
      for (let x = 0; x < HASH_SIDE; x++) s += small[y * HASH_SIDE + x] * DCT[u][x];
      rows[y * 8 + u] = s;
    }
  const coefficients = new Float64Array(64);
  for (let v = 0; v < 8; v++)
    for (let u = 0; u < 8; u++) {
      let s = 0;
      for (let y = 0; y < HASH_SIDE; y++) s += rows[y * 8 + u] * DCT[v][y];
      coefficients[v * 8 + u] = s;
    }
  const median = [...coefficients.subarray(1)].sort((a, b) => a - b)[31];
  let hex = "";
  for (let nibble = 0; nibble < 16; nibble++) {
    let bits = 0;
    for (let k = 0; k < 4; k++) bits = (bits << 1) | (coefficients[nibble * 4 + k] > median ? 1 : 0);
    hex += bits.toString(16);
  }
  return hex;
}
