/**
 * @photo-clusters/functions as a library: the parts of the Lambda handlers the local runtime runs
 * as they are (the API app, the poller's handler and adapters). The handlers themselves are
 * `api.ts`, `poller.ts` and `writer.ts`, which the stack bundles; nothing imports them.
 */
export { type ApiDeps, createApiApp } from "./api/app.ts";
export { createJwtVerifier, type VerifyToken } from "./api/auth.ts";
export { cachedReader } from "./api/view-cache.ts";
export { createPhotoDeleter, type PhotoDeleter } from "./api/photo-deleter.ts";
export { createUploadSigner, type PresignedPost } from "./api/uploads.ts";
export { DEFAULT_METRICS_NAMESPACE, MAX_OBJECT_BYTES } from "./config.ts";
export { createPollerHandler, type SqsBatchResponse, type SqsEvent } from "./poller/poller-handler.ts";
export { createS3ImageSource } from "./poller/s3-images.ts";
export { createSageMakerEmbedder } from "./poller/sagemaker-embedder.ts";
export { decodePhoto, smallImage } from "./poller/small-image.ts";
