/** Similarity and clustering: `export * as Similarity from "./similarity/index.ts"`. */
export { dotAgainstAll, dotF32 } from "./dot.ts";
export { normalizeRows, checkMatrix } from "./normalize.ts";
export { edgesAbove, EdgeBuffer, type Edges } from "./edges.ts";
export { clusterEdges, clusterVectors, clusterOptionsFor, graphAnswers, type Band, type Cluster, type ClusterOptions } from "./cluster.ts";
export { topSimilar, type Neighbour } from "./top-similar.ts";
export { toSimilarity, toCosine, checkCalibration, type Calibration } from "./calibration.ts";
export { kernelBytes, createKernel, sharedKernel, type Kernel } from "./kernel.ts";
export { edgesAboveParallel, clusterVectorsParallel } from "./parallel.ts";
