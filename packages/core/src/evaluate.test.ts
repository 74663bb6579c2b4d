import { describe, expect, it } from "vitest";
import { pairwiseScores, parseGroupsCsv } from "./evaluate.ts";

const groups = parseGroupsCsv("file,group\na.jpg,g1\nb.jpg,g1\nc.jpg,g1\nd.jpg,g2\ne.jpg,g2\nx.jpg,g3\n");

describe("pairwiseScores", () => {
  it("scores a perfect clustering 1, singleton distractors left alone", () => {
    const s = pairwiseScores(
      [
        ["a.jpg", "b.jpg", "c.jpg"],
        ["d.jpg", "e.jpg"],
      ],
      groups,
    );
    expect(s).toMatchObject({ precision: 1, recall: 1, f1: 1, truePositives: 4, clustered: 5, labelled: 6 });
  });

  it("counts a distractor pulled into a cluster as false positives", () => {
    const s = pairwiseScores(
      [
        ["a.jpg", "b.jpg", "c.jpg", "x.jpg"],
        ["d.jpg", "e.jpg"],
      ],
      groups,
    );
    expect(s.truePositives).toBe(4);
    expect(s.falsePositives).toBe(3);
    expect(s.precision).toBeCloseTo(4 / 7);
    expect(s.recall).toBe(1);
  });

  it("counts a split group as false negatives and ignores unlabelled files", () => {
    const s = pairwiseScores([["a.jpg", "b.jpg", "zzz.jpg"]], groups);
    expect(s).toMatchObject({ truePositives: 1, falsePositives: 0, falseNegatives: 3, precision: 1, recall: 0.25 });
    expect(s.f1).toBeCloseTo(0.4);
  });

  it("scores no clusters as precision 1, recall 0", () => {
    expect(pairwiseScores([], groups)).toMatchObject({ precision: 1, recall: 0, f1: 0 });
  });

  it("rejects a file predicted in two clusters and a malformed groups.csv", () => {
    expect(() => pairwiseScores([["a.jpg"], ["a.jpg"]], groups)).toThrow(/two predicted clusters/);
    expect(() => parseGroupsCsv("file,group\nonly-a-file\n")).toThrow(/bad groups.csv line/);
  });
});
