import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { silentLogger } from "@photo-clusters/core/logger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "./emulator.ts";
import { startQueuePoller } from "./queue-poller.ts";

describe("the local queue poller", () => {
  let emulator: Emulator;
  beforeAll(async () => {
    emulator = await startEmulator({
      port: 0,
      bucket: "photos",
      queue: "uploads",
      deadLetterQueue: "uploads-dlq",
      delaySeconds: 0,
      visibilityTimeoutSeconds: 1,
      maxReceiveCount: 3,
      onObjectChange: () => {},
    });
  });
  afterAll(() => emulator?.stop());

  it("deletes what the handler stored and moves a message that keeps failing to the DLQ after 3 receives", async () => {
    // Prepare
    for (const body of ["good-1", "poison", "good-2"]) await emulator.sqs.send(new SendMessageCommand({ QueueUrl: emulator.queueUrl, MessageBody: body }));
    const seen: string[] = [];
    const poller = startQueuePoller({
      sqs: emulator.sqs,
      queueUrl: emulator.queueUrl,
      batchSize: 10,
      visibilityTimeoutSeconds: 1,
      concurrency: 1,
      logger: silentLogger,
      handler: async (event) => {
        seen.push(...event.Records.map((r) => r.body));
        return { batchItemFailures: event.Records.filter((r) => r.body === "poison").map((r) => ({ itemIdentifier: r.messageId })) };
      },
    });
    // Act
    let dead: string[] = [];
    for (let i = 0; i < 40 && dead.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      const { Messages = [] } = await emulator.sqs.send(new ReceiveMessageCommand({ QueueUrl: emulator.deadLetterQueueUrl, MaxNumberOfMessages: 10 }));
      dead = Messages.map((m) => m.Body!);
    }
    await poller.stop();
    // Assess
    expect(dead).toEqual(["poison"]);
    expect(seen.filter((b) => b === "poison")).toHaveLength(3);
    expect(seen.filter((b) => b.startsWith("good"))).toHaveLength(2);
    const { Attributes } = await emulator.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: emulator.queueUrl, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }),
    );
    expect(Attributes).toMatchObject({ ApproximateNumberOfMessages: "0", ApproximateNumberOfMessagesNotVisible: "0" });
  });

  /**
   * One message, handled in `handlerSeconds` by two loops against a 1 s visibility timeout, for `seconds`; what
   * was received, as `<body>#<receive count>`. Waits out the last test's 1 s long poll first: aborted
   * by its stop, it still waits in the emulator and would take the message.
   */
  async function slowBatch(body: string, seconds: number, handlerSeconds: number, maxBatchSeconds?: number): Promise<string[]> {
    await new Promise((r) => setTimeout(r, 1500));
    await emulator.sqs.send(new SendMessageCommand({ QueueUrl: emulator.queueUrl, MessageBody: body }));
    const receives: string[] = [];
    const poller = startQueuePoller({
      sqs: emulator.sqs,
      queueUrl: emulator.queueUrl,
      batchSize: 10,
      visibilityTimeoutSeconds: 1,
      maxBatchSeconds,
      concurrency: 2,
      logger: silentLogger,
      handler: async (event) => {
        receives.push(...event.Records.map((r) => `${r.body}#${r.attributes?.ApproximateReceiveCount}`));
        await new Promise((r) => setTimeout(r, handlerSeconds * 1000));
        return { batchItemFailures: [] };
      },
    });
    await new Promise((r) => setTimeout(r, seconds * 1000));
    await poller.stop();
    return receives;
  }

  it("keeps a batch that outlasts the visibility timeout from being delivered again while it is handled", async () => {
    // Act
    const receives = await slowBatch("slow", 5, 3.5);
    // Assess: handled once, on its first receive, and deleted.
    expect(receives).toEqual(["slow#1"]);
    const { Attributes } = await emulator.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: emulator.queueUrl, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }),
    );
    expect(Attributes).toMatchObject({ ApproximateNumberOfMessages: "0", ApproximateNumberOfMessagesNotVisible: "0" });
  });

  it("lets a batch that outlasts maxBatchSeconds go back to the queue, as a timed-out function's would", async () => {
    // Act: renewed for at most 1.5 s, so visible again by 2.5 s, taken by the other loop by 3.5 s,
    // well before the first handler's 5 s are up (when it deletes the message).
    const receives = await slowBatch("hung", 6, 5, 1.5);
    // Assess: received again by the other loop once renewal stopped.
    expect(receives.slice(0, 2)).toEqual(["hung#1", "hung#2"]);
  });
});
