/**
 * Pairwise precision / recall / F1 of predicted clusters against labelled groups (groups.csv).
 *
 * Every unordered pair of labelled images counts once: a true positive when both are in the
 * same predicted cluster and the same group. Images missing from every predicted cluster are
 * singletons: they form no predicted pair, so a singleton group (a distractor) left alone costs
 * nothing, and a distractor put into a cluster adds false positives. Predicted images without
 * a label are ignored. Precision is 1 with no predicted pairs, recall 1 with no true pairs.
 */
export interface PairwiseScores {
  precision: number;
  recall: number;
  f1: number;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  /** Labelled images that some predicted cluster holds. */
  clustered: number;
  labelled: number;
}

export function pairwiseScores(predictedClusters: string[][], groups: Map<string, string>): PairwiseScores {
  const clusterOf = new Map<string, number>();
  predictedClusters.forEach((members, c) => {
    for (const file of members) {
      if (!groups.has(file)) continue;
      if (clusterOf.has(file)) throw new RangeError(`"${file}" is in two predicted clusters`);
      clusterOf.set(file, c);
    }
  });
  // Pairs by (cluster, group) cell, cluster and group totals: O(images), not O(images²).
  const cell = new Map<string, number>();
  const perCluster = new Map<number, number>();
  const perGroup = new Map<string, number>();
  for (const [file, group] of groups) {
    perGroup.set(group, (perGroup.get(group) ?? 0) + 1);
    const c = clusterOf.get(file);
    if (c === undefined) continue;
    perCluster.set(c, (perCluster.get(c) ?? 0) + 1);
    const key = `${c}\u0000${group}`;
    cell.set(key, (cell.get(key) ?? 0) + 1);
  }
  const pairs = (k: number) => (k * (k - 1)) / 2;
  let tp = 0;
  for (const k of cell.values()) tp += pairs(k);
  let predicted = 0;
  for (const k of perCluster.values()) predicted += pairs(k);
  let actual = 0;
  for (const k of perGroup.values()) actual += pairs(k);
  const precision = predicted === 0 ? 1 : tp / predicted;
  const recall = actual === 0 ? 1 : tp / actual;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return {
    precision,
    recall,
    f1,
    truePositives: tp,
    falsePositives: predicted - tp,
    falseNegatives: actual - tp,
    clustered: clusterOf.size,
    labelled: groups.size,
  };
}

/** Parses groups.csv (`file,group` with a header line) into file → group. */
export function parseGroupsCsv(text: string): Map<string, string> {
  const groups = new Map<string, string>();
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  for (const line of lines.slice(1)) {
    const [file, group] = line.split(",").map((x) => x.trim());
    if (!file || !group) throw new RangeError(`bad groups.csv line: "${line}"`);
    groups.set(file, group);
  }
  return groups;
}
