import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidParameterError } from "@photo-clusters/core";
import { parseId, parseLimit, parseMinSize, parseThreshold } from "./params.ts";

const one = (value: string | undefined) => () => (value === undefined ? undefined : [value]);

describe("query parameters", () => {
  it("never returns a threshold outside [0, 1]: any string parses into range or is refused", () => {
    fc.assert(
      fc.property(fc.string(), (raw) => {
        try {
          const t = parseThreshold(one(raw), 0.85);
          expect(t).toBeGreaterThanOrEqual(0);
          expect(t).toBeLessThanOrEqual(1);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidParameterError);
        }
      }),
    );
  });

  it("accepts every plain decimal between 0 and 1", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), (x) => {
        const raw = x.toFixed(6);
        expect(parseThreshold(one(raw), 0.85)).toBe(Number(raw));
      }),
    );
  });

  it("returns integers in range for minSize and limit, or refuses", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.integer().map(String)), (raw) => {
        for (const [parse, min, max] of [
          [parseMinSize, 2, 100_000],
          [parseLimit, 1, 100],
        ] as const) {
          try {
            const n = parse(one(raw));
            expect(Number.isInteger(n) && n >= min && n <= max).toBe(true);
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidParameterError);
          }
        }
      }),
    );
  });

  it("uses the defaults when a parameter is absent", () => {
    expect(parseThreshold(one(undefined), 0.85)).toBe(0.85);
    expect(parseMinSize(one(undefined))).toBe(2);
    expect(parseLimit(one(undefined))).toBe(10);
  });

  it("accepts only ids that could be an object key's part", () => {
    fc.assert(
      fc.property(fc.string(), (raw) => {
        const ok = /^[A-Za-z0-9_-]{1,128}$/.test(raw);
        if (ok) expect(parseId("userId", raw)).toBe(raw);
        else expect(() => parseId("userId", raw)).toThrow(InvalidParameterError);
      }),
    );
  });
});
