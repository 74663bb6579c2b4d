/** The pairwise-score tables `eval` and `calibrate` print: in-sample and cross-validated. */
import { canCrossValidate, crossValidate, crossValidateDense, type Fit, type FoldScores, type LabelledSet, SCORED_THRESHOLDS } from "@photo-clusters/core";

export const FOLDS = 5;

interface Row {
  threshold: number;
  precision: number;
  recall: number;
  f1: number;
  clusters?: number;
}

export function scoresTable(rows: readonly Row[]): string {
  const head = `threshold  precision  recall  f1${rows.some((r) => r.clusters !== undefined) ? "      clusters" : ""}\n`;
  return (
    head +
    rows
      .map(
        (r) =>
          `${r.threshold.toFixed(2).padEnd(11)}${r.precision.toFixed(3).padEnd(11)}${r.recall.toFixed(3).padEnd(8)}${r.f1.toFixed(3).padEnd(8)}${r.clusters ?? ""}`.trimEnd() +
          "\n",
      )
      .join("")
  );
}

/** The cross-validated table, or the reason there is none (too few groups to split). */
export function crossValidatedSection(set: LabelledSet, fit: Fit, what: string): { text: string; rows?: FoldScores[] } {
  if (!canCrossValidate(set.groups, FOLDS)) {
    return { text: `cross-validated: not measured; ${FOLDS} folds by group need ${FOLDS} groups or more, and a same-group pair outside each fold\n` };
  }
  const rows = crossValidate(set, fit, FOLDS, SCORED_THRESHOLDS);
  const dense = crossValidateDense(set, fit, FOLDS, SCORED_THRESHOLDS);
  return {
    text:
      `cross-validated: ${FOLDS} folds by group; ${what} fitted on four folds' photos, the fifth's clustered and scored with it; pairs summed over the folds\n${scoresTable(rows)}` +
      `\ncross-validated at full density: the same folds and fits, each fold clustered among all ${set.n} photos, and the pairs with one of its photos scored (the fairer figure: a fold alone has a fifth of the look-alikes)\n${scoresTable(dense)}`,
    rows,
  };
}
