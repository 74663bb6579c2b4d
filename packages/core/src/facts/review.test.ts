import { describe, expect, it } from "vitest";
import type { PhotoFacts } from "./photo-facts.ts";
import { duplicateGroups, hammingDistance, hashClosePairs, suggestBest } from "./review.ts";

function facts(over: Partial<PhotoFacts> & { clipped?: number; mean?: number } = {}): PhotoFacts {
  const { clipped = 0, mean = 0.5, ...rest } = over;
  return {
    takenAt: null,
    width: 4032,
    height: 3024,
    bytes: 3_000_000,
    format: "jpeg",
    jpegQuality: 92,
    sha256: "a".repeat(64),
    phash: "0123456789abcdef",
    sharpness: 0.3,
    noise: 0.002,
    exposure: { mean, shadows: 0, highlights: clipped },
    rgb: [0.5, 0.45, 0.4],
    chroma: 0.12,
    ...rest,
  };
}

describe("suggestBest", () => {
  it("keeps the full-size photo over a sharper-looking, larger downscaled copy", () => {
    const best = suggestBest([facts({ width: 2016, height: 1512, sharpness: 0.4, bytes: 4_000_000 }), facts()]);
    expect(best?.index).toBe(1);
    expect(best?.reasons).toContain("most_pixels");
  });

  it("keeps the clean frame of a burst over a larger, noisier file and a smaller, blurred one", () => {
    const burst = [
      facts({ noise: 0.012, sharpness: 0.29, bytes: 5_000_000 }), // noise does not compress
      facts({ sharpness: 0.3, bytes: 3_000_000 }),
      facts({ sharpness: 0.15, noise: 0.001, bytes: 1_500_000 }), // blur hides noise: it sets no floor
    ];
    expect(suggestBest(burst)).toEqual({ index: 1, reasons: ["most_pixels", "sharpest", "least_clipped"] });
  });

  it("passes over a frame exposed unlike the others, however crisp its clipped edges look", () => {
    const burst = [facts({ sharpness: 0.4, clipped: 0.25, mean: 0.75, bytes: 3_500_000 }), facts(), facts({ sharpness: 0.29, bytes: 2_900_000 })];
    expect(suggestBest(burst)?.index).toBe(1);
    // A scene white in every frame: no frame is held to another's clipping.
    const white = [facts({ clipped: 0.8, mean: 0.9, bytes: 2_000_000 }), facts({ clipped: 0.8, mean: 0.9, bytes: 2_100_000 })];
    expect(suggestBest(white)?.index).toBe(1);
  });

  it("keeps the photo saved at the higher JPEG quality over a recompressed copy, and says so", () => {
    const best = suggestBest([facts({ jpegQuality: 75, bytes: 3_200_000, sharpness: 0.31 }), facts({ jpegQuality: 92 })]);
    expect(best).toEqual({ index: 1, reasons: ["most_pixels", "least_clipped", "least_noisy", "least_compressed"] });
  });

  it("breaks a tie by the larger file, then the earlier capture", () => {
    const tie = [
      facts({ takenAt: "2024-05-06T07:08:09.500" }),
      facts({ takenAt: "2024-05-06T07:08:09.100" }),
      facts({ takenAt: "2024-05-06T07:08:08", bytes: 2_000_000 }),
    ];
    expect(suggestBest(tie)).toEqual({ index: 1, reasons: ["most_pixels", "sharpest", "least_clipped", "least_noisy", "largest_file"] });
  });

  it("suggests nothing when no photo has facts, and ignores those without", () => {
    expect(suggestBest([null, null])).toBeNull();
    expect(suggestBest([null, facts()])?.index).toBe(1);
  });
});

describe("duplicateGroups", () => {
  const cosine = (pairs: Record<string, number>) => (i: number, j: number) => pairs[`${i},${j}`] ?? null;

  it("groups identical bytes whatever their hashes' neighbours say", () => {
    const groups = duplicateGroups(
      [facts({ sha256: "b".repeat(64) }), facts({ sha256: "c".repeat(64), phash: "fedcba9876543210" }), facts({ sha256: "b".repeat(64) })],
      cosine({}),
    );
    expect(groups).toEqual([[0, 2]]);
  });

  it("groups close hashes only when the embeddings agree too", () => {
    const photos = [
      facts({ sha256: "1".repeat(64), phash: "0123456789abcdef" }),
      facts({ sha256: "2".repeat(64), phash: "0123456789abcdee" }), // one bit apart: a recompressed copy
      facts({ sha256: "3".repeat(64), phash: "0123456789abcdff" }), // one bit from the first, but another picture by its embedding
      facts({ sha256: "4".repeat(64), phash: "f0f0f0f0f0f0f0f0" }), // far in hash: a crop, however similar
    ];
    const groups = duplicateGroups(photos, cosine({ "0,1": 0.99, "0,2": 0.9, "1,2": 0.9, "0,3": 0.99 }));
    expect(groups).toEqual([[0, 1]]);
  });

  it("leaves out photos without facts", () => {
    expect(duplicateGroups([null, facts(), null, facts()], cosine({ "1,3": 1 }))).toEqual([[1, 3]]);
  });
});

describe("hashClosePairs", () => {
  it("finds every pair within the distance, as comparing all pairs would", () => {
    let seed = 3;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const base = Array.from({ length: 20 }, () => (BigInt(random()) << 33n) ^ BigInt(random()));
    // Each base hash and copies of it with 1 to 6 bits flipped.
    const hashes = base.flatMap((h) => [
      h,
      ...Array.from({ length: 3 }, () => {
        let x = h;
        for (let k = 0, flips = 1 + (random() % 6); k < flips; k++) x ^= 1n << BigInt(random() % 64);
        return x;
      }),
    ]);
    const photos = hashes.map((h) => facts({ phash: h.toString(16).padStart(16, "0") }));

    const found = hashClosePairs(photos, 4)
      .map(([i, j]) => `${i},${j}`)
      .sort();

    const expected: string[] = [];
    for (let i = 0; i < photos.length; i++)
      for (let j = i + 1; j < photos.length; j++) if (hammingDistance(photos[i]!.phash, photos[j]!.phash) <= 4) expected.push(`${i},${j}`);
    expect(found).toEqual(expected.sort());
    expect(expected.length).toBeGreaterThan(20);
  });
});

describe("duplicateGroups and colour", () => {
  it("does not call a colour edit the same picture, however close its hash and embedding", () => {
    const original = facts({ sha256: "1".repeat(64) });
    const warmer = facts({ sha256: "2".repeat(64), rgb: [0.53, 0.45, 0.38], chroma: 0.15 });
    const recompressed = facts({ sha256: "3".repeat(64), rgb: [0.501, 0.449, 0.401], chroma: 0.121 });
    expect(duplicateGroups([original, warmer, recompressed], () => 0.99)).toEqual([[0, 2]]);
  });
});

describe("hashClosePairs on a cluster of one hash", () => {
  it("looks at no more than its limit of pairs, however many photos share a hash", () => {
    const flat = Array.from({ length: 3000 }, () => facts({ phash: "0000000000000000" }));
    const pairs = hashClosePairs(flat, 4, 1000);
    expect(pairs).toHaveLength(1000); // of the 4.5 million pairs there are
  });
});
