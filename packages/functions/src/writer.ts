/** Lambda (in the VPC, EFS at DATA_DIR): appends the poller's embeddings to each user's file under its lock. */
import { type EmbeddingStore, emfMetrics, jsonLogger, openStore, writeEvents, type WritePayload, type WriteResponse } from "@photo-clusters/core";
import { writerConfig, writerMemoryBudget } from "./config.ts";
import { traced, traceFields, withInvocation } from "./tracing.ts";

const config = writerConfig();
const logger = jsonLogger({ function: "writer" }, { context: traceFields });
const metrics = emfMetrics({ namespace: config.metricsNamespace, service: "writer" });
/** Each store write is an X-Ray subsegment of the invocation. */
const tracedStore = (store: EmbeddingStore): EmbeddingStore => ({
  ...store,
  write: (userId, events) => traced("store.write", () => store.write(userId, events)),
});
const memoryBudgetBytes = writerMemoryBudget(config);
const store = tracedStore(openStore({ root: config.dataDir, model: config.model, logger, metrics, memoryBudgetBytes }));
// One writer's metrics for both stores: during a model switch only deletes reach the previous
// model's store, and its lock waits and compactions are this writer's work as much as the current's.
const previous = config.previousModel && tracedStore(openStore({ root: config.dataDir, model: config.previousModel, logger, metrics, memoryBudgetBytes }));

export const handler = withInvocation(
  async (payload: WritePayload): Promise<WriteResponse> => ({
    results: await writeEvents(store, payload.events, logger, previous, metrics),
  }),
);
