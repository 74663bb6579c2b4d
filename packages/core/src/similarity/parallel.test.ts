import { describe, expect, it } from "vitest";
import { clusterVectors } from "./cluster.ts";
import { edgesAbove } from "./edges.ts";
import { clusterVectorsParallel, edgesAboveParallel } from "./parallel.ts";
import { clusteredVectors } from "./synthetic.ts";

describe("edgesAboveParallel", () => {
  it.each([
    [600, 100],
    [1000, 37],
    [520, 1280],
  ])("finds the edges of the one-thread path, bit for bit (n=%i, d=%i)", async (n, d) => {
    // Prepare
    const { vectors } = clusteredVectors({ n, d, seed: n + d, groupCosine: 0.8 });
    vectors.fill(0, 5 * d, 6 * d); // a zero row
    // Act
    const parallel = await edgesAboveParallel(vectors, n, d, 0.6, { threads: 2 });
    // Assess
    expect(parallel).toEqual(edgesAbove(vectors, n, d, 0.6));
    expect(parallel.a.length).toBeGreaterThan(n / 2);
  });

  it("serves concurrent calls one after the other, each with its own answer", async () => {
    const x = clusteredVectors({ n: 700, d: 64, seed: 1 }).vectors;
    const y = clusteredVectors({ n: 500, d: 64, seed: 2 }).vectors;
    const [ex, ey] = await Promise.all([edgesAboveParallel(x, 700, 64, 0.7, { threads: 2 }), edgesAboveParallel(y, 500, 64, 0.7, { threads: 2 })]);
    expect(ex).toEqual(edgesAbove(x, 700, 64, 0.7));
    expect(ey).toEqual(edgesAbove(y, 500, 64, 0.7));
  });

  it("reports bad input as a rejected promise, on the small path and the threaded one alike, and keeps serving", async () => {
    const small = new Float32Array(10 * 4).fill(0.5);
    const { vectors } = clusteredVectors({ n: 600, d: 32, seed: 3 });

    await expect(edgesAboveParallel(small, 10, 4, 0)).rejects.toThrow(/floor/);
    await expect(edgesAboveParallel(vectors.subarray(0, 100), 600, 32, 0.5, { threads: 2 })).rejects.toThrow();
    await expect(edgesAboveParallel(vectors, 600, 32, 0.5, { threads: 2 })).resolves.toEqual(edgesAbove(vectors, 600, 32, 0.5));
  });

  it("clusters like clusterVectors", async () => {
    const { vectors } = clusteredVectors({ n: 800, d: 48, seed: 4 });
    const opts = { threshold: 0.85, floor: 0.7, bands: { medium: 0.85, high: 0.92 } };
    expect(await clusterVectorsParallel(vectors, 800, 48, opts, { threads: 2 })).toEqual(clusterVectors(vectors, 800, 48, opts));
  });
});
