import { buildApp } from "fauxqs";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { ObjectChange } from "@photo-clusters/core";
import { observeObjectChanges } from "./bridge.ts";
import { checkPostObject, s3ErrorXml } from "./post-object.ts";

/** Credentials the emulator accepts; any will do, the real SDK clients just need some. */
export const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };
export const LOCAL_REGION = "us-east-1";
/** The largest single PutObject the local S3 takes (S3's own limit is 5 GB). */
export const MAX_PUT_BYTES = 1024 * 1024 * 1024;

export interface EmulatorOptions {
  /** 0 (the default) picks a free port. */
  port: number;
  bucket: string;
  queue: string;
  deadLetterQueue: string;
  delaySeconds: number;
  visibilityTimeoutSeconds: number;
  maxReceiveCount: number;
  onObjectChange(change: ObjectChange): void;
}

/** Names fixed by the local contract (DESIGN.md "Local runtime"). */
export const LOCAL_BUCKET = "photos";
export const LOCAL_QUEUE = "uploads";
export const LOCAL_DLQ = "uploads-dlq";

/** The local runtime's names, no delay, a 30 s visibility timeout, 3 receives, nobody told of changes. */
const EMULATOR_DEFAULTS: EmulatorOptions = {
  port: 0,
  bucket: LOCAL_BUCKET,
  queue: LOCAL_QUEUE,
  deadLetterQueue: LOCAL_DLQ,
  delaySeconds: 0,
  visibilityTimeoutSeconds: 30,
  maxReceiveCount: 3,
  onObjectChange: () => {},
};

export interface Emulator {
  endpoint: string;
  s3: S3Client;
  sqs: SQSClient;
  queueUrl: string;
  deadLetterQueueUrl: string;
  stop(): Promise<void>;
}

export function localClients(endpoint: string) {
  // cacheMiddleware as in the poller Lambda (functions/src/poller.ts).
  const common = { endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, cacheMiddleware: true };
  return { s3: new S3Client({ ...common, forcePathStyle: true }), sqs: new SQSClient(common) };
}

/** S3 and SQS on 127.0.0.1 (fauxqs), with the bucket, the queue and its dead-letter queue created. */
export async function startEmulator(given: Partial<EmulatorOptions> = {}): Promise<Emulator> {
  const options = { ...EMULATOR_DEFAULTS, ...given };
  const app = buildApp({ logger: false, defaultRegion: LOCAL_REGION });
  // fauxqs refuses a request body over 11 MiB, and the SDK reports that as an XML parse error; S3
  // takes a single PUT of up to 5 GB. Its wildcard parser (the S3 bodies) gets a limit of its own, so
  // the pipeline, not the emulator, is what refuses an oversized photo. Bodies are held in memory.
  app.removeContentTypeParser("*");
  app.addContentTypeParser(
    "*",
    { parseAs: "buffer", bodyLimit: MAX_PUT_BYTES },
    (_request: unknown, body: Buffer, done: (error: Error | null, body?: Buffer) => void) => done(null, body),
  );
  observeObjectChanges(app, options.bucket, options.onObjectChange);
  acceptPostObject(app, options.bucket);
  await app.listen({ host: "127.0.0.1", port: options.port });
  const endpoint = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const { s3, sqs } = localClients(endpoint);

  await s3.send(new CreateBucketCommand({ Bucket: options.bucket }));
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: options.deadLetterQueue }));
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn;
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: options.queue,
      Attributes: {
        DelaySeconds: String(options.delaySeconds),
        VisibilityTimeout: String(options.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount }),
      },
    }),
  );
  return {
    endpoint,
    s3,
    sqs,
    queueUrl: queue.QueueUrl!,
    deadLetterQueueUrl: dlq.QueueUrl!,
    async stop() {
      s3.destroy();
      sqs.destroy();
      await app.close();
    },
  };
}

const LOOPBACK_ORIGIN = /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

/**
 * Browser uploads: a multipart POST to the bucket, checked against its signed policy
 * (post-object.ts), then stored by a PutObject through the emulator itself, which the bridge sees.
 * Pages on localhost may read the answer (CORS), as a web app's pages may in AWS from the CORS
 * rule its stage's `browserOrigins` puts on the bucket.
 */
function acceptPostObject(app: ReturnType<typeof buildApp>, bucket: string): void {
  const secrets: Record<string, string> = { [LOCAL_CREDENTIALS.accessKeyId]: LOCAL_CREDENTIALS.secretAccessKey };
  type Request = { method: string; url: string; headers: Record<string, string | undefined>; body: unknown };
  type Reply = { code(status: number): Reply; header(name: string, value: unknown): Reply; type(contentType: string): Reply; send(body?: unknown): Reply };
  app.addHook("preHandler", async (request: Request, reply: Reply) => {
    const contentType = request.headers["content-type"] ?? "";
    if (request.method !== "POST" || request.url !== `/${bucket}` || !/^multipart\/form-data/i.test(contentType)) return;
    const origin = request.headers.origin;
    if (origin && LOOPBACK_ORIGIN.test(origin)) reply.header("Access-Control-Allow-Origin", origin).header("Vary", "Origin");
    const result = await checkPostObject({ bucket, region: LOCAL_REGION, contentType, body: request.body as Buffer }, (id) => secrets[id]);
    if (!result.ok) return reply.code(result.status).type("application/xml").send(s3ErrorXml(result.code, result.message));
    const path = result.key.split("/").map(encodeURIComponent).join("/");
    const put = await app.inject({
      method: "PUT",
      url: `/${bucket}/${path}`,
      payload: Buffer.from(result.file),
      headers: { "content-type": result.contentType },
    });
    if (put.statusCode !== 200) return reply.code(put.statusCode).type("application/xml").send(put.body);
    return reply.code(204).header("ETag", put.headers.etag).header("Location", `/${bucket}/${path}`).send();
  });
}
