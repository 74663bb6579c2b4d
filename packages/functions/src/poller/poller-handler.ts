import { type IngestPorts, ingestBatch } from "@photo-clusters/core";

/** The subset of Lambda's SQS event the poller reads. */
export interface SqsEvent {
  Records: Array<{ messageId: string; body: string; attributes?: { ApproximateReceiveCount?: string } }>;
}

export interface SqsBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

/**
 * The poller: every failed message is returned by id (ReportBatchItemFailures), so SQS retries only
 * those and, after maxReceiveCount, moves them to the dead-letter queue.
 */
export function createPollerHandler(ports: IngestPorts) {
  return async (event: SqsEvent): Promise<SqsBatchResponse> => {
    // Without the attribute a message counts as a first delivery: a failure that could pass is then never recorded as final.
    const messages = event.Records.map((r) => ({
      messageId: r.messageId,
      body: r.body,
      receiveCount: Number.parseInt(r.attributes?.ApproximateReceiveCount ?? "", 10) || 1,
    }));
    // One metrics line per batch (a few more when failures differ in code), written as the batch ends.
    const result = await ingestBatch(messages, ports).finally(() => ports.metrics?.flush());
    ports.logger.info("batch done", { messages: messages.length, stored: result.stored, skipped: result.skipped, failed: result.failedMessageIds.length });
    return { batchItemFailures: result.failedMessageIds.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}
