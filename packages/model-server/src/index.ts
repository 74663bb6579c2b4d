export { createEmbedder, l2NormaliseRows, poolFeatures, type Embedder, type EmbedderOptions } from "./embedder.ts";
export * from "./errors.ts";
export { resolveModelPath, sha256File, type ResolveOptions } from "./model-file.ts";
export { exposeTensor, graphTensorNames } from "./onnx-patch.ts";
export { checkContentType, DEFAULT_LIMITS, inspectImage, preprocess, type ImageLimits } from "./preprocess.ts";
export { startModelServer, type ModelServer, type ModelServerOptions } from "./server.ts";
export { measureEndToEndThroughput, measureModelThroughput, type BatchFigure, type EndToEndFigure } from "./throughput.ts";
