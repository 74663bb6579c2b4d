import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { parseS3Message } from "@photo-clusters/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { notificationSender } from "./bridge.ts";
import { startEmulator, type Emulator } from "./emulator.ts";

describe("the local S3 notification bridge", () => {
  let emulator: Emulator;
  beforeAll(async () => {
    let send = (_: unknown) => {};
    emulator = await startEmulator({ onObjectChange: (c) => send(c) });
    send = notificationSender(emulator.sqs, emulator.queueUrl, (e) => {
      throw e;
    }) as typeof send;
  });
  afterAll(() => emulator?.stop());

  it("takes a single PutObject of 100 MB, as S3 does, and announces it once", async () => {
    const body = Buffer.alloc(100 * 1024 * 1024, 9);

    await emulator.s3.send(new PutObjectCommand({ Bucket: "photos", Key: "users/big/panorama.jpg", Body: body, ContentType: "image/jpeg" }));
    const head = await emulator.s3.send(new HeadObjectCommand({ Bucket: "photos", Key: "users/big/panorama.jpg" }));

    expect(head.ContentLength).toBe(body.length);
    expect((await receive(1)).flatMap((m) => (m.kind === "changes" ? m.changes.map((c) => c.key) : []))).toEqual(["users/big/panorama.jpg"]);
  });

  async function receive(count: number) {
    const bodies: string[] = [];
    for (let i = 0; i < 20 && bodies.length < count; i++) {
      const { Messages = [] } = await emulator.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: emulator.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
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

  it("sends the new object's etag for a copy and a multipart upload, and one delete per key of a batch delete", async () => {
    // Prepare
    await emulator.s3.send(new PutObjectCommand({ Bucket: "photos", Key: "users/bob/a.jpg", Body: Buffer.from("a") }));
    await receive(1);
    // Act
    await emulator.s3.send(new CopyObjectCommand({ Bucket: "photos", Key: "users/bob/b.jpg", CopySource: "photos/users/bob/a.jpg" }));
    const { UploadId } = await emulator.s3.send(new CreateMultipartUploadCommand({ Bucket: "photos", Key: "users/bob/c.jpg" }));
    const part = await emulator.s3.send(new UploadPartCommand({ Bucket: "photos", Key: "users/bob/c.jpg", UploadId, PartNumber: 1, Body: Buffer.from("c") }));
    await emulator.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: "photos",
        Key: "users/bob/c.jpg",
        UploadId,
        MultipartUpload: { Parts: [{ ETag: part.ETag, PartNumber: 1 }] },
      }),
    );
    const etagOf = async (key: string) => (await emulator.s3.send(new HeadObjectCommand({ Bucket: "photos", Key: key }))).ETag!.replace(/"/g, "");
    const expected = { b: await etagOf("users/bob/b.jpg"), c: await etagOf("users/bob/c.jpg") };
    await emulator.s3.send(new DeleteObjectsCommand({ Bucket: "photos", Delete: { Objects: [{ Key: "users/bob/a.jpg" }, { Key: "users/bob/b & c.jpg" }] } }));
    const events = (await receive(4)).flatMap((m) => (m.kind === "changes" ? m.changes : []));
    // Assess
    expect(
      events
        .filter((e) => e.kind === "put")
        .map((e) => [e.key, e.etag, e.eventName])
        .sort(),
    ).toEqual([
      ["users/bob/b.jpg", expected.b, "ObjectCreated:Copy"],
      ["users/bob/c.jpg", expected.c, "ObjectCreated:CompleteMultipartUpload"],
    ]);
    expect(
      events
        .filter((e) => e.kind === "delete")
        .map((e) => e.key)
        .sort(),
    ).toEqual(["users/bob/a.jpg", "users/bob/b & c.jpg"]);
  });

  it("serves an object only at the etag its event names (If-Match)", async () => {
    const key = "users/alice/x.jpg";
    const first = await emulator.s3.send(new PutObjectCommand({ Bucket: "photos", Key: key, Body: Buffer.from("one") }));
    await emulator.s3.send(new PutObjectCommand({ Bucket: "photos", Key: key, Body: Buffer.from("two") }));
    await expect(emulator.s3.send(new GetObjectCommand({ Bucket: "photos", Key: key, IfMatch: first.ETag }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 412 },
    });
    await receive(2);
  });
});
