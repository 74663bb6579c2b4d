import { CoreError } from "./errors.ts";
import { decodeS3Key, encodeS3Key } from "./keys.ts";

/** One object change from an S3 notification, key already URL-decoded. */
export interface ObjectChange {
  kind: "put" | "delete";
  bucket: string;
  key: string;
  /** Absent on deletes. */
  etag?: string;
  size?: number;
  /** S3's hex ordering token for events on the same key. */
  sequencer: string;
  eventName: string;
}

export type ParsedMessage = { kind: "test" } | { kind: "changes"; changes: ObjectChange[] };

export class MalformedEventError extends CoreError {
  constructor(message: string) {
    super("malformed_event", message);
  }
}

interface RawRecord {
  eventName?: unknown;
  s3?: { bucket?: { name?: unknown }; object?: { key?: unknown; eTag?: unknown; size?: unknown; sequencer?: unknown } };
}

/** Parses the body of an SQS message that carries an S3 event notification. */
export function parseS3Message(body: string): ParsedMessage {
  let json: { Event?: unknown; Records?: unknown };
  try {
    json = JSON.parse(body);
  } catch {
    throw new MalformedEventError("message body is not JSON");
  }
  if (json === null || typeof json !== "object") throw new MalformedEventError("message body is not an object");
  if (json.Event === "s3:TestEvent") return { kind: "test" };
  if (!Array.isArray(json.Records)) throw new MalformedEventError("message has no Records array");
  return { kind: "changes", changes: json.Records.map((r: RawRecord, i) => parseRecord(r, i)) };
}

function parseRecord(record: RawRecord, index: number): ObjectChange {
  const eventName = record?.eventName;
  const object = record?.s3?.object;
  const bucket = record?.s3?.bucket?.name;
  if (typeof eventName !== "string" || typeof bucket !== "string" || typeof object?.key !== "string") {
    throw new MalformedEventError(`record ${index} lacks eventName, bucket or object key`);
  }
  const kind = eventName.startsWith("ObjectCreated:") ? "put" : eventName.startsWith("ObjectRemoved:") ? "delete" : undefined;
  if (!kind) throw new MalformedEventError(`record ${index}: unsupported event ${eventName}`);
  if (typeof object.sequencer !== "string" || !/^[0-9A-Fa-f]+$/.test(object.sequencer)) {
    throw new MalformedEventError(`record ${index}: missing or invalid sequencer`);
  }
  const etag = typeof object.eTag === "string" ? object.eTag.replace(/"/g, "") : undefined;
  if (kind === "put" && !etag) throw new MalformedEventError(`record ${index}: ObjectCreated without eTag`);
  return {
    kind,
    bucket,
    key: decodeS3Key(object.key),
    etag,
    size: typeof object.size === "number" ? object.size : undefined,
    sequencer: object.sequencer.toUpperCase(),
    eventName,
  };
}

/** Builds the notification body S3 sends, for the local bridge and backfill. */
export function s3EventMessage(change: Omit<ObjectChange, "kind"> & { kind: "put" | "delete"; region?: string; time?: Date }): string {
  const object: Record<string, unknown> = { key: encodeS3Key(change.key), sequencer: change.sequencer };
  if (change.kind === "put") Object.assign(object, { size: change.size ?? 0, eTag: change.etag });
  return JSON.stringify({
    Records: [
      {
        eventVersion: "2.1",
        eventSource: "aws:s3",
        awsRegion: change.region ?? "us-east-1",
        eventTime: (change.time ?? new Date()).toISOString(),
        eventName: change.eventName,
        s3: { s3SchemaVersion: "1.0", bucket: { name: change.bucket, arn: `arn:aws:s3:::${change.bucket}` }, object },
      },
    ],
  });
}
