import { createServer, type Server } from "node:http";
import { SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { emfMetrics } from "@photo-clusters/core";
import { afterEach, describe, expect, it } from "vitest";
import { createSageMakerEmbedder } from "./sagemaker-embedder.ts";

/**
 * A real HTTP endpoint that answers with a scripted sequence of statuses: throttling and 5xx can't
 * be produced on demand by the real model server, so this stands in for SageMaker's runtime API.
 */
function scriptedEndpoint(statuses: number[]) {
  const seen: number[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const status = statuses[Math.min(seen.length, statuses.length - 1)];
      seen.push(status);
      if (status === 200) {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ model: "m", dimension: 2, embedding: [0.6, 0.8] }));
      }
      const type = status === 429 ? "ThrottlingException" : status === 400 ? "ValidationError" : "ServiceUnavailable";
      res.writeHead(status, { "content-type": "application/json", "x-amzn-errortype": type });
      res.end(JSON.stringify({ message: `scripted ${status}` }));
    });
  });
  return new Promise<{ url: string; seen: number[]; close(): void }>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen, close: () => server.close() })),
  );
}

const client = (endpoint: string) =>
  new SageMakerRuntimeClient({ endpoint, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" }, maxAttempts: 4 });
const image = { bytes: new Uint8Array([1, 2, 3]), contentType: "image/jpeg" };

/** EMF metrics whose flushed lines are read back as name → value. */
function recordedMetrics() {
  const lines: Array<Record<string, unknown>> = [];
  const metrics = emfMetrics({ namespace: "t", service: "poller", write: (line) => lines.push(JSON.parse(line)) });
  return {
    metrics,
    values: () => {
      metrics.flush();
      return Object.assign({}, ...lines);
    },
  };
}

describe("the SageMaker embedder", () => {
  let close = () => {};
  afterEach(() => close());

  it("retries throttling and 5xx, then returns the embedding", async () => {
    const endpoint = await scriptedEndpoint([429, 503, 200]);
    close = endpoint.close;
    const { metrics, values } = recordedMetrics();
    const result = await createSageMakerEmbedder(client(endpoint.url), "e", metrics)(image);
    expect(Array.from(result.vector)).toEqual([expect.closeTo(0.6), expect.closeTo(0.8)]);
    expect(endpoint.seen).toEqual([429, 503, 200]);
    expect(values()).toMatchObject({ EmbeddingRetries: 2, EmbeddingThrottles: 1 });
  });

  it("shares a client with another embedder, each counting its own throttles", async () => {
    const endpoint = await scriptedEndpoint([429, 200]);
    close = endpoint.close;
    const shared = client(endpoint.url);
    const first = recordedMetrics();
    const second = recordedMetrics();
    const embedFirst = createSageMakerEmbedder(shared, "e", first.metrics);
    const embedSecond = createSageMakerEmbedder(shared, "e", second.metrics);
    await embedFirst(image);
    await embedSecond(image);
    expect(first.values()).toMatchObject({ EmbeddingRetries: 1, EmbeddingThrottles: 1 });
    expect(second.values()).toMatchObject({ EmbeddingRetries: 0, EmbeddingThrottles: 0 });
  });

  it("gives up after its attempts with a retryable error, so the message goes back to the queue", async () => {
    const endpoint = await scriptedEndpoint([429]);
    close = endpoint.close;
    const { metrics, values } = recordedMetrics();
    await expect(createSageMakerEmbedder(client(endpoint.url), "e", metrics)(image)).rejects.toMatchObject({ code: "endpoint_unavailable", retryable: true });
    expect(endpoint.seen).toHaveLength(4);
    expect(values()).toMatchObject({ EmbeddingRetries: 3, EmbeddingThrottles: 4 });
  });

  it("does not retry an image the model refused, and says it is permanent", async () => {
    const endpoint = await scriptedEndpoint([400]);
    close = endpoint.close;
    await expect(createSageMakerEmbedder(client(endpoint.url), "e")(image)).rejects.toMatchObject({ code: "rejected_by_model", retryable: false });
    expect(endpoint.seen).toEqual([400]);
  });
});
