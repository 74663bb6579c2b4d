import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { type ObjectChange, s3EventMessage } from "@photo-clusters/core/s3-event";
import type { buildApp } from "fauxqs";

/**
 * The emulator stores objects but sends no notifications. The bridge watches its successful S3
 * writes and deletes on the wire and sends the queue the same event JSON S3 would: URL-encoded
 * key, eTag, size and a sequencer that grows with every change.
 */

let last = 0n;
/** Strictly increasing hex, like S3's per-key sequencer (ours is global, which is stronger). */
export function nextSequencer(): string {
  const now = BigInt(Date.now()) << 20n;
  last = now > last ? now : last + 1n;
  return last.toString(16).toUpperCase().padStart(16, "0");
}

export function observeObjectChanges(app: ReturnType<typeof buildApp>, bucket: string, onChange: (change: ObjectChange) => void): void {
  type Request = { method: string; url: string; headers: Record<string, string | string[] | undefined> };
  type Reply = { statusCode: number; getHeader(name: string): unknown };
  app.addHook("onResponse", (request: Request, reply: Reply, done: () => void) => {
    const status = reply.statusCode;
    const url = new URL(request.url, "http://local");
    const [, first, ...rest] = url.pathname.split("/");
    if (status >= 300 || first !== bucket || rest.length === 0) return done();
    const key = decodeURIComponent(rest.join("/"));
    const q = url.searchParams;
    const etag = String(reply.getHeader("etag") ?? "").replace(/"/g, "");
    if (request.method === "PUT" && !q.has("partNumber") && !q.has("tagging") && !q.has("acl")) {
      const size = Number(request.headers["x-amz-decoded-content-length"] ?? request.headers["content-length"] ?? 0);
      const copy = request.headers["x-amz-copy-source"] !== undefined;
      onChange({ kind: "put", bucket, key, etag, size, sequencer: nextSequencer(), eventName: copy ? "ObjectCreated:Copy" : "ObjectCreated:Put" });
    } else if (request.method === "POST" && q.has("uploadId")) {
      onChange({ kind: "put", bucket, key, etag, sequencer: nextSequencer(), eventName: "ObjectCreated:CompleteMultipartUpload" });
    } else if (request.method === "DELETE" && !q.has("uploadId")) {
      onChange({ kind: "delete", bucket, key, sequencer: nextSequencer(), eventName: "ObjectRemoved:Delete" });
    }
    done();
  });
}

/** Sends each change to the queue as an S3 notification. */
export function notificationSender(sqs: SQSClient, queueUrl: string, onError: (error: unknown, change: ObjectChange) => void) {
  return (change: ObjectChange) => {
    sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: s3EventMessage(change) })).catch((error) => onError(error, change));
  };
}
