import { describe, expect, it } from "vitest";
import { MODELS, modelById } from "./models.ts";
import { checkCalibration, toCosine, toSimilarity } from "./similarity/calibration.ts";

describe("model descriptors", () => {
  it.each(Object.values(MODELS).map((m) => [m.id, m] as const))("%s has a calibration that maps similarity to cosine and back", (_, model) => {
    const c = model.defaults.calibration;
    if (c) expect(() => checkCalibration(c)).not.toThrow();
    for (const s of [0, 0.5, model.defaults.threshold, 0.95, 1]) expect(toSimilarity(toCosine(s, c), c)).toBeCloseTo(s, 9);
    expect(model.defaults.graphFloor).toBeLessThanOrEqual(toCosine(model.defaults.threshold, c));
  });

  it("names the known models when asked for another", () => {
    expect(() => modelById("nope")).toThrow(`unknown model "nope"; known: ${Object.keys(MODELS).join(", ")}`);
  });
});
