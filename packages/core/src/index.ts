/**
 * @photo-clusters/core: what the other packages use of the domain. Everything else in src/ is
 * internal to core.
 */
export * from "./calibrate/fit.ts";
export * from "./descriptor-file.ts";
export * from "./emf-reader.ts";
export * from "./errors.ts";
export * from "./evaluate.ts";
export * from "./facts/index.ts";
export * from "./ingest/index.ts";
export * from "./keys.ts";
export * from "./logger.ts";
export * from "./metrics.ts";
export * from "./model-input.ts";
export * from "./model-switch.ts";
export * from "./models.ts";
export * from "./postprocess.ts";
export * from "./s3-event.ts";
export * from "./similarity/index.ts";
export { clusteredVectors, gaussian, prng } from "./similarity/synthetic.ts";
export * from "./store/index.ts";
export { EdgeList } from "./store/format/edge-list.ts";
export { parseLog } from "./store/format/log-file.ts";
export { normalise } from "./store/write/prepare-event.ts";
