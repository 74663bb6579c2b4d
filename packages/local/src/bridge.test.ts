import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { parseS3Message } from "@photo-clusters/core/s3-event";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { notificationSender } from "./bridge.ts";
import { startEmulator, type Emulator } from "./emulator.ts";

describe("the local S3 notification bridge", () => {
  let emulator: Emulator;
  beforeAll(async () => {
    let send = (_: unknown) => {};
    emulator = await startEmulator({
      port: 0, bucket: "photos", queue: "uploads", deadLetterQueue: "uploads-dlq",
      delaySeconds: 0, visibilityTimeoutSeconds: 30, maxReceiveCount: 3,
      onObjectChange: (c) => send(c),
    });
    send = notificationSender(emulator.sqs, emulator.queueUrl, (e) => { throw e; }) as typeof send;
  });
  afterAll(() => emulator?.stop());

  async function receive(count: number) {
    const bodies: string[] = [];
    for (let i = 0; i < 20 && bodies.length < count; i++) {
      const { Messages = [] } = await emulator.sqs.send(new ReceiveMessageCommand({ QueueUrl: emulator.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      bodies.push(...Messages.map((m) => m.Body!));
    }
    return bodies.map((b) => parseS3Message(b));
  }

  it("sends an S3-shaped event for each upload and delete, with increasing sequencers", async () => {
    // Prepare
    const key = "users/alice/beach day.jpg";
    const put = await emulator.s3.send(new PutObjectCommand({ Bucket: "photos", Key: key, Body: Buffer.from("abc"), ContentType: "image/jpeg" }));
    await emulator.s3.send(new DeleteObjectCommand({ Bucket: "photos", Key: key }));
    // Act
    const events = (await receive(2)).flatMap((m) => (m.kind === "changes" ? m.changes : []));
    // Assess
    expect(events).toHaveLength(2);
    const [created, removed] = events.sort((a, b) => a.sequencer.localeCompare(b.sequencer));
    expect(created).toMatchObject({ kind: "put", bucket: "photos", key, etag: put.ETag!.replace(/"/g, ""), size: 3, eventName: "ObjectCreated:Put" });
    expect(removed).toMatchObject({ kind: "delete", key, eventName: "ObjectRemoved:Delete" });
    expect(removed.sequencer > created.sequencer).toBe(true);
  });

  it("serves an object only at the etag its event names (If-Match)", async () => {
    const key = "users/alice/x.jpg";
    const first = await emulator.s3.send(new PutObjectCommand({ Bucket: "photos", Key: key, Body: Buffer.from("one") }));
    await emulator.s3.send(new PutObjectCommand({ Bucket: "photos", Key: key, Body: Buffer.from("two") }));
    await expect(emulator.s3.send(new GetObjectCommand({ Bucket: "photos", Key: key, IfMatch: first.ETag }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    await receive(2);
  });
});
