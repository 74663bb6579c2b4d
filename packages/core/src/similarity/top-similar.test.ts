import { describe, expect, it } from "vitest";
import { InvalidParameterError } from "../errors.ts";
import { normalizeRows } from "./normalize.ts";
import { topSimilar } from "./top-similar.ts";

// Four 2-d rows: 0 and 1 close, 2 further, 3 a zero vector.
const v = normalizeRows(Float32Array.of(1, 0, 0.9, 0.1, 0.5, 0.5, 0, 0), 4, 2);

describe("topSimilar", () => {
  it("lists the other images best first, without the image itself", () => {
    const got = topSimilar(v, 4, 2, 0, 2);
    expect(got.map((x) => x.index)).toEqual([1, 2]);
    expect(got[0].similarity).toBeGreaterThan(got[1].similarity);
  });

  it("gives a zero vector similarity 0, never NaN, and honours the limit", () => {
    const got = topSimilar(v, 4, 2, 3, 10);
    expect(got).toEqual([
      { index: 0, similarity: 0 },
      { index: 1, similarity: 0 },
      { index: 2, similarity: 0 },
    ]);
    expect(topSimilar(v, 4, 2, 1, 0)).toEqual([]);
  });

  it("rejects an index or limit out of range", () => {
    expect(() => topSimilar(v, 4, 2, 4, 1)).toThrow(InvalidParameterError);
    expect(() => topSimilar(v, 4, 2, 0, -1)).toThrow(InvalidParameterError);
  });
});
