import { InvokeEndpointCommand, type SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { CoreError, type FetchedImage, type Metrics, noMetrics, PermanentRecordError } from "@photo-clusters/core";

interface EndpointReply {
  model: string;
  dimension: number;
  embedding: number[];
}

/**
 * Embeds through the SageMaker runtime API (the real endpoint in AWS, the model server locally).
 * Throttling and 5xx are retried by the client's own retry strategy (exponential backoff, full
 * jitter); what is still failing after that goes back to SQS. A 4xx from the model is permanent.
 * Counts EmbeddingRetries (attempts after the first) and EmbeddingThrottles (attempts answered 429).
 */
export function createSageMakerEmbedder(client: SageMakerRuntimeClient, endpointName: string, metrics: Metrics = noMetrics) {
  // Zeros too, so both metrics have a value for every batch that embedded something.
  const countRetries = (attempts: number | undefined) => {
    metrics.count("EmbeddingRetries", Math.max(0, (attempts ?? 1) - 1));
    metrics.count("EmbeddingThrottles", 0);
  };
  return async (image: FetchedImage): Promise<{ model: string; vector: Float32Array }> => {
    let body: Uint8Array;
    // On the command, not the client (which may be shared, or given to two embedders): inside the
    // retry middleware (same step, lower priority), so it sees every attempt's outcome.
    const command = new InvokeEndpointCommand({ EndpointName: endpointName, ContentType: image.contentType, Accept: "application/json", Body: image.bytes });
    command.middlewareStack.add(
      (next) => async (args) => {
        try {
          return await next(args);
        } catch (error) {
          const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
          if (e.name === "ThrottlingException" || e.$metadata?.httpStatusCode === 429) metrics.count("EmbeddingThrottles");
          throw error;
        }
      },
      { step: "finalizeRequest", priority: "low", name: "countThrottles" },
    );
    try {
      const response = await client.send(command);
      countRetries(response.$metadata.attempts);
      body = response.Body;
    } catch (error) {
      const e = error as { name?: string; message?: string; OriginalStatusCode?: number; $metadata?: { httpStatusCode?: number; attempts?: number } };
      countRetries(e.$metadata?.attempts);
      const status = e.OriginalStatusCode ?? e.$metadata?.httpStatusCode ?? 500;
      if (e.name === "ValidationError" || (status >= 400 && status < 500 && status !== 429 && status !== 424)) {
        throw new PermanentRecordError("rejected_by_model", `the model server refused the image: ${e.message ?? e.name}`, error);
      }
      throw new CoreError("endpoint_unavailable", `embedding endpoint failed after retries: ${e.name ?? "error"}`, { cause: error, retryable: true });
    }
    const reply = JSON.parse(Buffer.from(body).toString("utf8")) as EndpointReply;
    if (!Array.isArray(reply.embedding) || reply.embedding.length !== reply.dimension) {
      throw new CoreError("bad_endpoint_reply", "embedding endpoint answered without a vector of its stated dimension", { retryable: true });
    }
    return { model: reply.model, vector: Float32Array.from(reply.embedding) };
  };
}
