import { CoreError, type FetchedImage, jsonLogger, PermanentRecordError, s3EventMessage, type WriteEventWire } from "@photo-clusters/core";
import { describe, expect, it } from "vitest";
import { createPollerHandler } from "./poller-handler.ts";

/** Ports as the poller Lambda wires them, in memory: the photo's name says how it fares. */
function handler(written: WriteEventWire[]) {
  return createPollerHandler({
    fetchImage: async (change): Promise<FetchedImage> => {
      if (change.key.includes("text")) throw new PermanentRecordError("not_an_image", "the file's bytes are not a photo");
      if (change.key.includes("busy")) throw new CoreError("endpoint_unavailable", "the endpoint is busy", { retryable: true });
      return { bytes: new Uint8Array([1]), contentType: "image/webp" };
    },
    embed: async () => ({ model: "m", vector: Float32Array.from([1, 0]) }),
    write: async (events) => {
      written.push(...events);
      return events.map((e) => ({ id: e.id, ok: true, outcome: e.kind === "put" ? "stored" : "recorded" }));
    },
    model: "m",
    maxReceiveCount: 3,
    logger: jsonLogger({}, { write() {} }),
  });
}
const record = (messageId: string, key: string, receives: number) => ({
  messageId,
  body: s3EventMessage({ kind: "put", eventName: "ObjectCreated:Put", bucket: "photos", key, etag: "e", size: 1, sequencer: "01" }),
  attributes: { ApproximateReceiveCount: String(receives) },
});

describe("the poller's SQS handler", () => {
  it("stores the batch's good photos and fails back only the others by message id, recording those that will never pass", async () => {
    // Prepare
    const written: WriteEventWire[] = [];

    // Act
    const response = await handler(written)({
      Records: [record("m1", "users/ann/a.jpg", 1), record("m2", "users/ann/text.jpg", 1), record("m3", "users/ann/busy.jpg", 1)],
    });

    // Assess: the text fails for good (a failure record); the busy one is retried by SQS, not recorded yet
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(["m2", "m3"]);
    expect(written.filter((e) => e.kind === "put").map((e) => e.key)).toEqual(["users/ann/a.jpg"]);
    expect(written.filter((e) => e.kind === "failure").map((e) => [e.key, "code" in e && e.code])).toEqual([["users/ann/text.jpg", "not_an_image"]]);
  });

  it("records a retryable failure on the delivery SQS says is its last, from ApproximateReceiveCount", async () => {
    const written: WriteEventWire[] = [];

    const response = await handler(written)({ Records: [record("m3", "users/ann/busy.jpg", 3)] });

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m3" }]);
    expect(written.map((e) => [e.kind, "code" in e && e.code])).toEqual([["failure", "endpoint_unavailable"]]);
  });
});
