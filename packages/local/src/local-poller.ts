import { SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import type { S3Client } from "@aws-sdk/client-s3";
import { type EmbeddingStore, type Logger, type Metrics, type ModelDescriptor, writeEvents, type WritePayload, type WriteResponse } from "@photo-clusters/core";
import { createPollerHandler, createS3ImageSource, createSageMakerEmbedder, MAX_OBJECT_BYTES } from "@photo-clusters/functions";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "./emulator.ts";

/** A photo takes the model server milliseconds; 10 s means it is stalled. */
export const EMBED_TIMEOUT_MS = 10_000;

/**
 * The poller handler wired to local parts: the emulator's S3, the model server through the real
 * SageMaker runtime client, and the writer called in-process across a JSON boundary, as a Lambda
 * invoke would be. `metrics`, when given, are the poller's and the writer's (the writer's is the one
 * the store was opened with, so its LockWait and Compactions go out with the writer's line).
 */
export function localPollerHandler(deps: {
  s3: S3Client;
  modelServerUrl: string | (() => string);
  store: EmbeddingStore;
  model: ModelDescriptor;
  logger: Logger;
  maxReceiveCount?: number;
  /** How long one InvokeEndpoint attempt may take before it is abandoned and retried (default EMBED_TIMEOUT_MS). */
  embedTimeoutMs?: number;
  metrics?: { poller: Metrics; writer: Metrics };
}) {
  const writerLog = deps.logger.child({ component: "writer" });
  const invokeWriter = async (payload: string): Promise<string> =>
    JSON.stringify({
      results: await writeEvents(deps.store, (JSON.parse(payload) as WritePayload).events, writerLog, undefined, deps.metrics?.writer),
    } satisfies WriteResponse);
  // A function when the model server may move (a restart binds a new port): asked on every request.
  const url = deps.modelServerUrl;
  const endpoint = typeof url === "string" ? url : async () => ({ url: new URL(url()) });
  // A model server that stops answering (stalled, or stopped) must not hold a batch forever: each
  // attempt is abandoned after the timeout, retried by the client, then the message by the queue.
  const requestHandler = { requestTimeout: deps.embedTimeoutMs ?? EMBED_TIMEOUT_MS, throwOnRequestTimeout: true };
  const sagemaker = new SageMakerRuntimeClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 4,
    cacheMiddleware: true,
    requestHandler,
  });
  return createPollerHandler({
    fetchImage: createS3ImageSource(deps.s3, {
      maxObjectBytes: MAX_OBJECT_BYTES,
      preprocessing: deps.model.input.preprocessing,
    }),
    embed: createSageMakerEmbedder(sagemaker, "local", deps.metrics?.poller),
    write: async (events) => (JSON.parse(await invokeWriter(JSON.stringify({ events }))) as WriteResponse).results,
    model: deps.model.id,
    maxReceiveCount: deps.maxReceiveCount,
    logger: deps.logger.child({ component: "poller" }),
    metrics: deps.metrics?.poller,
  });
}
