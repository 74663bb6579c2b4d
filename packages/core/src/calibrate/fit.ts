/**
 * Fitting a model's similarity defaults (calibration, graph floor, default threshold) from
 * labelled photos, and scoring them honestly: `crossValidate` fits on some groups and scores on
 * the others, so no photo is scored by a calibration that has seen it.
 *
 * The fit: the pairwise F1 of average linkage at each raw cosine cut (a 0.005 grid) on the
 * training photos; the plateau is the run of cuts around the best one whose F1 stays within
 * PLATEAU_TOLERANCE of it. Its low end becomes similarity 0.80, its middle 0.85 (the default
 * threshold) and its high end 0.90, so the three thresholds users pick from all fall where the
 * training photos cluster well, in the same order. The graph floor sits FLOOR_MARGIN below the
 * low end, rounded down to 0.01.
 */
import { pairwiseScores, type PairwiseScores } from "../evaluate.ts";
import type { SimilarityDefaults } from "../models.ts";
import { clusterVectors } from "../similarity/cluster.ts";

/** n L2-normalised rows of d values, row i labelled with its group. */
export interface LabelledSet {
  vectors: Float32Array;
  n: number;
  d: number;
  groups: readonly string[];
}

export const SCORED_THRESHOLDS = [0.8, 0.85, 0.9] as const;
const PLATEAU_TOLERANCE = 0.01;
const FLOOR_MARGIN = 0.05;
const STEP = 0.005;
const BANDS = { medium: 0.85, high: 0.92 };

/** Pairwise scores of clustering `set` with `defaults` at `threshold`. */
export function scoreAt(set: LabelledSet, defaults: SimilarityDefaults, threshold: number): PairwiseScores {
  const clusters = clusterVectors(set.vectors, set.n, set.d, {
    threshold,
    floor: defaults.graphFloor,
    bands: defaults.bands,
    calibration: defaults.calibration,
  });
  const labels = new Map(set.groups.map((g, i) => [String(i), g]));
  return pairwiseScores(
    clusters.map((c) => c.members.map(String)),
    labels,
  );
}

/** Whether the set holds a pair of the same group (without one there is nothing to fit). */
export function hasPositivePair(groups: readonly string[]): boolean {
  return new Set(groups).size < groups.length;
}

export function fitDefaults(set: LabelledSet): SimilarityDefaults {
  if (!hasPositivePair(set.groups)) throw new RangeError("the labelled photos hold no two of the same group: there is nothing to fit");
  const cuts: number[] = [];
  for (let k = Math.round(0.2 / STEP); k * STEP <= 0.99 + 1e-9; k++) cuts.push(Number((k * STEP).toFixed(3)));
  const f1 = cuts.map((cut) => scoreAt(set, { threshold: cut, graphFloor: Math.max(0.01, cut - FLOOR_MARGIN), bands: BANDS }, cut).f1);
  const best = f1.indexOf(Math.max(...f1));
  let lo = best;
  let hi = best;
  while (lo > 0 && f1[lo - 1] >= f1[best] - PLATEAU_TOLERANCE) lo--;
  while (hi < cuts.length - 1 && f1[hi + 1] >= f1[best] - PLATEAU_TOLERANCE) hi++;
  // A one-point plateau still needs three distinct knots.
  const c80 = Math.min(cuts[lo], cuts[best] - STEP);
  const c90 = Math.max(cuts[hi], cuts[best] + STEP);
  const c85 = Number(((c80 + c90) / 2).toFixed(4));
  return {
    threshold: 0.85,
    graphFloor: Math.max(0.01, Math.floor((c80 - FLOOR_MARGIN) * 100) / 100),
    bands: BANDS,
    calibration: { cosine: [0, c80, c85, c90, 1], similarity: [0, 0.8, 0.85, 0.9, 1] },
  };
}

/**
 * k folds by group: groups, largest first (then by name), each go to the fold holding the fewest
 * photos so far (the lowest such fold on a tie). Deterministic; a group never spans two folds.
 */
export function foldsByGroup(groups: readonly string[], k: number): Int32Array {
  const size = new Map<string, number>();
  for (const g of groups) size.set(g, (size.get(g) ?? 0) + 1);
  const order = [...size.keys()].sort((a, b) => size.get(b)! - size.get(a)! || (a < b ? -1 : a > b ? 1 : 0));
  const load = new Array<number>(k).fill(0);
  const foldOf = new Map<string, number>();
  for (const g of order) {
    const f = load.indexOf(Math.min(...load));
    foldOf.set(g, f);
    load[f] += size.get(g)!;
  }
  return Int32Array.from(groups, (g) => foldOf.get(g)!);
}

/** The rows of `set` listed in `rows`, in that order. */
export function subset(set: LabelledSet, rows: readonly number[]): LabelledSet {
  const vectors = new Float32Array(rows.length * set.d);
  for (const [i, r] of rows.entries()) vectors.set(set.vectors.subarray(r * set.d, (r + 1) * set.d), i * set.d);
  return { vectors, n: rows.length, d: set.d, groups: rows.map((r) => set.groups[r]) };
}

export interface FoldScores {
  threshold: number;
  precision: number;
  recall: number;
  f1: number;
}

/**
 * What a fit is: the defaults for the training photos, and how it turns any photos' vectors into
 * the ones those defaults apply to (post-processing fitted on the training photos, or none).
 */
export type Fit = (train: LabelledSet) => {
  defaults: SimilarityDefaults;
  transform: (set: LabelledSet) => LabelledSet;
  /** The mean-centering fitted, when the fit centres. */
  center?: number[];
};

export const plainFit: Fit = (train) => ({ defaults: fitDefaults(train), transform: (set) => set });

/**
 * k-fold cross-validation by group: for each fold, `fit` sees only the other folds' photos, and
 * the fold's photos are clustered with what it fitted and scored against their groups. Pairs are
 * pooled over the folds (true and false positives and negatives summed) before precision, recall
 * and F1. Pairs across two folds are never scored: each fold is clustered on its own.
 */
export function crossValidate(set: LabelledSet, fit: Fit = plainFit, k = 5, thresholds: readonly number[] = SCORED_THRESHOLDS): FoldScores[] {
  return crossValidated(set, fit, k, thresholds, (_train, test, { defaults, transform }) => {
    const scored = transform(subset(set, test));
    return (t) => scoreAt(scored, defaults, t);
  });
}

/**
 * Cross-validation at full density: as `crossValidate`, but each fold's photos are clustered among
 * all the photos (the fit still sees only the other folds'), and the pairs scored are those with a
 * held-out photo in them. A fold clustered alone holds about a fifth of the look-alikes a real
 * library has, which flatters precision; here every other photo is there to be confused with. A
 * false pair between two folds' photos is scored in both of their folds.
 */
export function crossValidateDense(set: LabelledSet, fit: Fit = plainFit, k = 5, thresholds: readonly number[] = SCORED_THRESHOLDS): FoldScores[] {
  return crossValidated(set, fit, k, thresholds, (train, _test, { defaults, transform }) => {
    const all = transform(set);
    return (t) => {
      const clusters = clusterVectors(all.vectors, all.n, all.d, {
        threshold: t,
        floor: defaults.graphFloor,
        bands: defaults.bands,
        calibration: defaults.calibration,
      });
      const predicted = clusters.map((c) => c.members.map(String));
      const every = pairwiseScores(predicted, new Map(set.groups.map((g, i) => [String(i), g])));
      // Pairs of two training photos are what the fit saw: take them out.
      const seen = pairwiseScores(predicted, new Map(train.map((r) => [String(r), set.groups[r]!])));
      return {
        truePositives: every.truePositives - seen.truePositives,
        falsePositives: every.falsePositives - seen.falsePositives,
        falseNegatives: every.falseNegatives - seen.falseNegatives,
      };
    };
  });
}

/** A fold's scoring: given its split and what was fitted on its training photos, its pair counts at a threshold. */
type FoldScore = (
  train: number[],
  test: number[],
  fitted: ReturnType<Fit>,
) => (threshold: number) => Pick<PairwiseScores, "truePositives" | "falsePositives" | "falseNegatives">;

function crossValidated(set: LabelledSet, fit: Fit, k: number, thresholds: readonly number[], score: FoldScore): FoldScores[] {
  const folds = foldsByGroup(set.groups, k);
  const tp = new Float64Array(thresholds.length);
  const fp = new Float64Array(thresholds.length);
  const fn = new Float64Array(thresholds.length);
  for (let f = 0; f < k; f++) {
    const test: number[] = [];
    const train: number[] = [];
    for (let r = 0; r < set.n; r++) (folds[r] === f ? test : train).push(r);
    const at = score(train, test, fit(subset(set, train)));
    thresholds.forEach((t, i) => {
      const s = at(t);
      tp[i] += s.truePositives;
      fp[i] += s.falsePositives;
      fn[i] += s.falseNegatives;
    });
  }
  return thresholds.map((threshold, i) => {
    const precision = tp[i] + fp[i] === 0 ? 1 : tp[i] / (tp[i] + fp[i]);
    const recall = tp[i] + fn[i] === 0 ? 1 : tp[i] / (tp[i] + fn[i]);
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { threshold, precision, recall, f1 };
  });
}

/** Whether k-fold cross-validation by group can run: every training split must hold a same-group pair. */
export function canCrossValidate(groups: readonly string[], k = 5): boolean {
  const folds = foldsByGroup(groups, k);
  for (let f = 0; f < k; f++) {
    if (!hasPositivePair(groups.filter((_, r) => folds[r] !== f))) return false;
  }
  return new Set(groups).size >= k;
}
