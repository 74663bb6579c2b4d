import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { silentLogger } from "@photo-clusters/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "./emulator.ts";
import { startQueuePoller } from "./queue-poller.ts";

describe("the local queue poller", () => {
  let emulator: Emulator;
  beforeAll(async () => {
    emulator = await startEmulator({ visibilityTimeoutSeconds: 1 });
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
});

describe("the local queue poller, with a batch slower than the visibility timeout", () => {
  // Its own queue, with a 2 s visibility timeout: renewed every 0.67 s, so a test process held up by
  // a busy machine for over a second still renews in time.
  let emulator: Emulator;
  beforeAll(async () => {
    emulator = await startEmulator({ visibilityTimeoutSeconds: 2 });
  });
  afterAll(() => emulator?.stop());

  /**
   * One message, handled in `handlerSeconds` by two loops, for `seconds`; what was received, as
   * `<body>#<receive count>`. Waits out the last test's 1 s long poll first: aborted by its stop, it
   * still waits in the emulator and would take the message.
   */
  async function slowBatch(body: string, seconds: number, handlerSeconds: number, maxBatchSeconds?: number): Promise<string[]> {
    await new Promise((r) => setTimeout(r, 1500));
    await emulator.sqs.send(new SendMessageCommand({ QueueUrl: emulator.queueUrl, MessageBody: body }));
    const receives: string[] = [];
    const poller = startQueuePoller({
      sqs: emulator.sqs,
      queueUrl: emulator.queueUrl,
      batchSize: 10,
      visibilityTimeoutSeconds: 2,
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

  it("keeps it from being delivered again while it is handled", async () => {
    // Act: 2.5 visibility timeouts of work.
    const receives = await slowBatch("slow", 6.5, 5);
    // Assess: handled once, on its first receive, and deleted.
    expect(receives).toEqual(["slow#1"]);
    const { Attributes } = await emulator.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: emulator.queueUrl, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }),
    );
    expect(Attributes).toMatchObject({ ApproximateNumberOfMessages: "0", ApproximateNumberOfMessagesNotVisible: "0" });
  });

  it("lets it go back to the queue after maxBatchSeconds, as a timed-out function's would", async () => {
    // Act: renewed for at most 3 s, so visible again by 5 s, taken by the other loop by 6 s, well
    // before the first handler's 8 s are up (when it deletes the message).
    const receives = await slowBatch("hung", 9, 8, 3);
    // Assess: received again by the other loop once renewal stopped.
    expect(receives.slice(0, 2)).toEqual(["hung#1", "hung#2"]);
  });
});
