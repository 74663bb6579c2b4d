import { buildApp } from "fauxqs";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { ObjectChange } from "@photo-clusters/core/s3-event";
import { observeObjectChanges } from "./bridge.ts";

// On Node 20 every SDK client would print a 7-line warning that SDK releases after January 2027 need
// Node 22. The lockfile pins today's SDK and the Lambdas run Node 24; the README says it once.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/** Credentials the emulator accepts; any will do, the real SDK clients just need some. */
export const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };
export const LOCAL_REGION = "us-east-1";
/** The largest single PutObject the local S3 takes (S3's own limit is 5 GB). */
export const MAX_PUT_BYTES = 1024 * 1024 * 1024;

export interface EmulatorOptions {
  port: number;
  bucket: string;
  queue: string;
  deadLetterQueue: string;
  delaySeconds: number;
  visibilityTimeoutSeconds: number;
  maxReceiveCount: number;
  onObjectChange(change: ObjectChange): void;
}

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
export async function startEmulator(options: EmulatorOptions): Promise<Emulator> {
  const app = buildApp({ logger: false, defaultRegion: LOCAL_REGION });
  // fauxqs refuses a request body over 11 MiB, and the SDK reports that as an XML parse error; S3
  // takes a single PUT of up to 5 GB. Its wildcard parser (the S3 bodies) gets a limit of its own, so
  // the pipeline, not the emulator, is what refuses an oversized photo. Bodies are held in memory.
  app.removeContentTypeParser("*");
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: MAX_PUT_BYTES }, (_request: unknown, body: Buffer, done: (error: Error | null, body?: Buffer) => void) => done(null, body));
  observeObjectChanges(app, options.bucket, options.onObjectChange);
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
