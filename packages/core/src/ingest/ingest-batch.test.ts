import { describe, expect, it } from "vitest";
import { CoreError } from "../errors.ts";
import { silentLogger } from "../logger.ts";
import { s3EventMessage } from "../s3-event.ts";
import { ingestBatch, type IngestPorts } from "./ingest-batch.ts";
import type { WriteEventWire } from "./write-payload.ts";

const message = (key: string, receiveCount: number) => ({
  messageId: key,
  receiveCount,
  body: s3EventMessage({ kind: "put", eventName: "ObjectCreated:Put", bucket: "photos", key, etag: "e1", size: 10, sequencer: "0A" }),
});

/** An endpoint that is down: the one failure of this kind nothing real here produces on demand. */
function portsWith(written: WriteEventWire[][]): IngestPorts {
  return {
    fetchImage: async () => ({ bytes: new Uint8Array([1]), contentType: "image/jpeg" }),
    embed: async () => {
      throw new CoreError("endpoint_unavailable", "embedding endpoint failed after retries", { retryable: true });
    },
    write: async (events) => {
      written.push(events);
      return events.map((e) => ({ id: e.id, ok: true as const, outcome: "recorded" }));
    },
    model: "m",
    logger: silentLogger,
    maxReceiveCount: 3,
    clock: () => new Date("2026-12-04T10:00:00.000Z"),
  };
}

describe("ingestBatch's failure records", () => {
  it("records a retryable failure only on the message's last delivery before the dead-letter queue", async () => {
    const written: WriteEventWire[][] = [];

    const early = await ingestBatch([message("users/alice/2024/a b.jpg", 2)], portsWith(written));
    const last = await ingestBatch([message("users/alice/2024/a b.jpg", 3)], portsWith(written));

    expect(early.failedMessageIds).toEqual(["users/alice/2024/a b.jpg"]);
    expect(last.failedMessageIds).toEqual(["users/alice/2024/a b.jpg"]);
    expect(written.flat()).toEqual([
      {
        id: expect.any(String),
        userId: "alice",
        kind: "failure",
        key: "users/alice/2024/a b.jpg",
        sequencer: "0A",
        imageId: "2024/a b",
        code: "endpoint_unavailable",
        message: "embedding endpoint failed after retries",
        at: "2026-12-04T10:00:00.000Z",
      },
    ]);
  });

  it("records a key that cannot be a photo at once, for a valid user, and its delete settles it", async () => {
    const written: WriteEventWire[][] = [];
    const deleted = {
      messageId: "d",
      body: s3EventMessage({ kind: "delete", eventName: "ObjectRemoved:Delete", bucket: "photos", key: "users/alice/2024.05/notes.txt", sequencer: "0B" }),
    };

    await ingestBatch([message("users/alice/2024.05/notes.txt", 1), message("users/../x.jpg", 1)], portsWith(written));
    await ingestBatch([deleted], portsWith(written));

    expect(written.flat().map((e) => [e.kind, e.key, (e as { code?: string }).code, (e as { imageId?: string }).imageId])).toEqual([
      ["failure", "users/alice/2024.05/notes.txt", "invalid_key", "2024.05/notes"],
      ["forget", "users/alice/2024.05/notes.txt", undefined, undefined],
    ]);
  });
});
