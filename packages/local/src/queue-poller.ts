import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Logger } from "@photo-clusters/core";
import type { SqsBatchResponse, SqsEvent } from "@photo-clusters/functions";

/**
 * What Lambda's SQS event source mapping does, on one machine: receive batches, call the handler,
 * delete what succeeded and leave the reported failures to reappear after their visibility
 * timeout (and, past maxReceiveCount, to move to the dead-letter queue).
 *
 * In AWS a batch cannot outlive the poller function's timeout, and the queue's visibility timeout
 * is six of those. Here nothing bounds a batch (a stalled model server costs it every retry of every
 * photo), so while the handler works, the batch's messages are kept invisible: every third of the
 * visibility timeout their visibility is renewed. A batch is never delivered twice at once, and a
 * slow one uses up no receive count. Renewal stops after `maxBatchSeconds` (as Lambda would have
 * timed the function out), so a handler that hangs lets its messages go back to the queue. Unlike a
 * timed-out function, one that finishes after that still has its successes deleted: the copies
 * delivered again meanwhile are duplicates, which the store ignores.
 */
export interface QueuePollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  handler(event: SqsEvent): Promise<SqsBatchResponse>;
  batchSize: number;
  /** The queue's visibility timeout: in-flight messages are renewed every third of it. */
  visibilityTimeoutSeconds: number;
  /** How long a batch's messages are kept invisible at most (default 900 s, Lambda's longest timeout). */
  maxBatchSeconds?: number;
  /** Batches handled at once, like the event source's maximum concurrency. */
  concurrency: number;
  logger: Logger;
  /** Awaited before each receive: holds intake back while what the handler needs is down. */
  ready?: () => Promise<void>;
}

export function startQueuePoller(options: QueuePollerOptions): { stop(): Promise<void> } {
  let running = true;
  const controller = new AbortController();
  const stopping = new Promise<void>((resolve) => controller.signal.addEventListener("abort", () => resolve()));

  async function loop(): Promise<void> {
    while (running) {
      try {
        if (options.ready) await Promise.race([options.ready(), stopping]);
        if (!running) return;
        const { Messages = [] } = await options.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: options.queueUrl,
            MaxNumberOfMessages: options.batchSize,
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ["ApproximateReceiveCount"],
          }),
          { abortSignal: controller.signal },
        );
        if (Messages.length === 0) continue;
        const event: SqsEvent = {
          Records: Messages.map((m) => ({
            messageId: m.MessageId!,
            body: m.Body ?? "",
            receiptHandle: m.ReceiptHandle!,
            attributes: { ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount },
          })),
        };
        let failedIds: Set<string>;
        const renewUntil = Date.now() + (options.maxBatchSeconds ?? 900) * 1000;
        const renew = () => {
          if (Date.now() >= renewUntil) {
            options.logger.warn("a batch outlasted maxBatchSeconds: its messages go back to the queue", { messages: Messages.length });
            return clearInterval(heartbeat);
          }
          const Entries = Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: options.visibilityTimeoutSeconds }));
          options.sqs
            .send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: options.queueUrl, Entries }))
            .then(({ Failed = [] }) => {
              if (Failed.length) options.logger.warn("could not renew the visibility of messages in flight", { failed: Failed });
            })
            .catch((error) => options.logger.warn("could not renew the visibility of a batch in flight", { error }));
        };
        const heartbeat = setInterval(renew, (options.visibilityTimeoutSeconds * 1000) / 3);
        try {
          failedIds = new Set((await options.handler(event)).batchItemFailures.map((f) => f.itemIdentifier));
        } catch (error) {
          // A thrown handler fails the whole batch, as in Lambda.
          options.logger.error("poller handler threw; the whole batch will be retried", { error });
          failedIds = new Set(Messages.map((m) => m.MessageId!));
        } finally {
          clearInterval(heartbeat);
        }
        const done = Messages.filter((m) => !failedIds.has(m.MessageId!));
        if (done.length > 0) {
          await options.sqs.send(
            new DeleteMessageBatchCommand({ QueueUrl: options.queueUrl, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
          );
        }
      } catch (error) {
        if (!running) return;
        options.logger.error("queue poll failed; retrying in 1 s", { error });
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  const loops = Array.from({ length: options.concurrency }, loop);
  return {
    async stop() {
      running = false;
      controller.abort();
      await Promise.allSettled(loops);
    },
  };
}
