import { describe, expect, it } from "vitest";
import { crossValidate, crossValidateDense, fitDefaults, foldsByGroup, type Fit, type LabelledSet, plainFit } from "./fit.ts";

/** Groups of near-identical unit vectors (a shared direction plus a little noise), and photos alone. */
function labelled(groupSizes: number[], d = 16, seed = 1): LabelledSet {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31 - 0.5;
  };
  const groups: string[] = [];
  const rows: number[][] = [];
  groupSizes.forEach((size, g) => {
    const centre = Array.from({ length: d }, rand);
    for (let k = 0; k < size; k++) {
      rows.push(centre.map((x) => x + 0.08 * rand()));
      groups.push(`g${g}`);
    }
  });
  const vectors = new Float32Array(rows.length * d);
  rows.forEach((r, i) => {
    const norm = Math.hypot(...r);
    vectors.set(
      r.map((x) => x / norm),
      i * d,
    );
  });
  return { vectors, n: rows.length, d, groups };
}

describe("calibration fit and cross-validation", () => {
  it("splits by group: a group is never in two folds, and the folds hold about as many photos each", () => {
    const groups = labelled([5, 4, 4, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1]).groups;
    const folds = foldsByGroup(groups, 5);
    for (const g of new Set(groups)) expect(new Set(groups.flatMap((x, i) => (x === g ? [folds[i]] : []))).size).toBe(1);
    const sizes = [0, 1, 2, 3, 4].map((f) => folds.filter((x) => x === f).length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(2);
    expect(foldsByGroup(groups, 5)).toEqual(folds);
  });

  it("fits nothing on the photos it then scores", () => {
    const set = labelled([4, 4, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1]);
    const seen: string[][] = [];
    const scored: string[][] = [];
    const spy: Fit = (train) => {
      seen.push([...new Set(train.groups)]);
      const fitted = plainFit(train);
      return {
        ...fitted,
        transform: (s) => {
          scored.push([...new Set(s.groups)]);
          return s;
        },
      };
    };
    crossValidate(set, spy, 5);
    expect(seen).toHaveLength(5);
    for (const [f, train] of seen.entries()) expect(train.filter((g) => scored[f].includes(g))).toEqual([]);
    expect(new Set(scored.flat()).size).toBe(new Set(set.groups).size);
  });

  it("puts 0.80, 0.85 and 0.90 in order inside the training photos' best cuts, with the floor below them", () => {
    const set = labelled([4, 4, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1]);
    const d = fitDefaults(set);
    const [, c80, c85, c90] = d.calibration!.cosine;
    expect(c80).toBeLessThan(c85);
    expect(c85).toBeLessThan(c90);
    expect(d.graphFloor).toBeLessThan(c80);
    expect(crossValidate(set).map((r) => r.f1)).toEqual([1, 1, 1]);
  });

  it("at full density, counts the look-alikes in other folds that a fold clustered alone never meets", () => {
    // Prepare: groups whose photos are near-identical, and for some of them a look-alike of another
    // group in another fold, as close to it as its own group's photos are
    const set = labelled([3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2]);
    const folds = foldsByGroup(set.groups, 5);
    const { d } = set;
    let lookAlikes = 0;
    for (let r = 0; r < set.n && lookAlikes < 4; r++) {
      // The first photo of a later group in another fold becomes a copy of row r.
      const other = set.groups.findIndex((g, i) => i > r && g !== set.groups[r] && folds[i] !== folds[r] && set.groups.indexOf(g) === i && i % 3 === 0);
      if (other < 0 || set.groups[r] === set.groups[r - 1]) continue;
      set.vectors.set(set.vectors.subarray(r * d, r * d + d), other * d);
      lookAlikes++;
    }

    // Act
    const alone = crossValidate(set);
    const dense = crossValidateDense(set);

    // Assess: clustered alone, a fold never meets the look-alikes; among all the photos, they join
    expect(lookAlikes).toBeGreaterThan(0);
    for (const [i, r] of dense.entries()) expect(r.precision, `at ${r.threshold}`).toBeLessThan(alone[i].precision);
  });

  it("refuses photos with no two of the same group", () => {
    expect(() => fitDefaults(labelled([1, 1, 1]))).toThrow(/no two of the same group/);
  });
});
