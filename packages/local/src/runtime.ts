import { createServer, type AddressInfo } from "node:net";
import { resolve } from "node:path";
import { serve } from "@hono/node-server";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { Hono } from "hono";
import { type EmbeddingStore, emfMetrics, type EmfOptions, type Logger, type ModelDescriptor, type ObjectChange, openStore } from "@photo-clusters/core";
import { cachedReader, createApiApp, createPhotoDeleter, createUploadSigner, DEFAULT_METRICS_NAMESPACE, MAX_OBJECT_BYTES } from "@photo-clusters/functions";
import { createDevAuth, type DevAuth } from "./dev-auth.ts";
import { notificationSender } from "./bridge.ts";
import { LOCAL_BUCKET, LOCAL_CREDENTIALS, LOCAL_REGION, startEmulator, type Emulator } from "./emulator.ts";
import { localPollerHandler } from "./local-poller.ts";
import { superviseModelServer } from "./model-server-supervisor.ts";
import { createLocalRoutes } from "./page/local-routes.ts";
import { startQueuePoller } from "./queue-poller.ts";

export interface LocalRuntimeOptions {
  /** API and page; 0 picks a free port. */
  port: number;
  /** S3 and SQS emulator; 0 picks a free port. */
  emulatorPort: number;
  dataDir: string;
  modelPath: string;
  model: ModelDescriptor;
  /** The descriptor file `model` came from (MODEL_DESCRIPTOR), if any: the model server loads the same one. */
  modelDescriptor?: string;
  queueDelaySeconds: number;
  visibilityTimeoutSeconds: number;
  maxReceiveCount: number;
  logger: Logger;
  /** How long one embedding request may take before it is abandoned and retried (default 10 s). */
  embedTimeoutMs?: number;
  /** How often the supervisor pings the model server; 3 missed pings in a row mean it is restarted (default 1 s). */
  modelServerPingMs?: number;
  /** Where the functions' metric lines (CloudWatch EMF, as in AWS) go: the logs' sink; default stdout. */
  writeMetrics?: (line: string) => void;
  /** Called when a part fails for good (the model server could not be kept running); the runtime is stopped first. */
  onFatal?(error: Error): void;
}

export interface LocalRuntime {
  apiUrl: string;
  emulator: Emulator;
  modelServerUrl: string;
  /** The model server's process, for CPU accounting. */
  modelServerPid: number;
  store: EmbeddingStore;
  auth: DevAuth;
  stop(): Promise<void>;
}

export class PortInUseError extends Error {}

export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const { logger, model } = options;
  const dataDir = resolve(options.dataDir);
  // A given port is checked now, before the model server starts; 0 is bound as 0 and read back,
  // since a probed free port could be handed out again before its server binds it.
  const apiPort = options.port && (await claimPort(options.port, "PORT"));
  const emulatorPort = options.emulatorPort && (await claimPort(options.emulatorPort, "EMULATOR_PORT"));
  const stops: Array<() => Promise<void>> = [];
  let stopped: Promise<void> | undefined;
  // Once, however many ask (a signal during a give-up); the last started stops first.
  const stop = () =>
    (stopped ??= (async () => {
      for (const s of [...stops].reverse()) await s().catch((error) => logger.warn("stop failed", { error }));
    })());
  try {
    const modelServer = await superviseModelServer({
      modelPath: options.modelPath,
      model,
      modelDescriptor: options.modelDescriptor,
      logger: logger.child({ component: "model-server" }),
      pingIntervalMs: options.modelServerPingMs,
      onGiveUp: (error) => void stop().then(() => options.onFatal?.(error)),
    });
    stops.push(() => modelServer.close());

    let send: (change: ObjectChange) => void = () => {};
    const emulator = await startEmulator({
      port: emulatorPort,
      delaySeconds: options.queueDelaySeconds,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
      maxReceiveCount: options.maxReceiveCount,
      onObjectChange: (change) => send(change),
    });
    stops.push(() => emulator.stop());
    const bridgeLog = logger.child({ component: "bridge" });
    const sendNotification = notificationSender(emulator.sqs, emulator.queueUrl, (error, change) =>
      bridgeLog.error("notification not sent", { key: change.key, error }),
    );
    send = (change) => {
      bridgeLog.debug("notification", { key: change.key, event: change.eventName });
      sendNotification(change);
    };

    const metrics = (service: EmfOptions["service"]) => emfMetrics({ namespace: DEFAULT_METRICS_NAMESPACE, service, write: options.writeMetrics });
    const writerMetrics = metrics("writer");
    const apiMetrics = metrics("api");
    const store = openStore({ root: dataDir, model, logger: logger.child({ component: "store" }), metrics: writerMetrics });
    const pollerLog = logger.child({ component: "poller" });
    const poller = localPollerHandler({
      s3: emulator.s3,
      modelServerUrl: modelServer.url,
      store,
      model,
      logger,
      maxReceiveCount: options.maxReceiveCount,
      embedTimeoutMs: options.embedTimeoutMs,
      metrics: { poller: metrics("poller"), writer: writerMetrics },
    });
    // Eight batches at once (each embeds 4 photos at a time): while some wait for their write or
    // the queue, the others keep the model server's queue full. In eval's ingestion: about 128/s
    // with two, 148/s with four, 163/s with eight, no more with twelve or sixteen.
    // Nothing is received while the model server is down: no message uses up a delivery on it.
    const queuePoller = startQueuePoller({
      sqs: emulator.sqs,
      queueUrl: emulator.queueUrl,
      handler: poller,
      batchSize: 10,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
      concurrency: 8,
      logger: pollerLog,
      ready: modelServer.whenHealthy,
    });
    stops.push(() => queuePoller.stop());

    const auth = await createDevAuth(dataDir);
    const app = new Hono();
    app.route(
      "/",
      createLocalRoutes({
        issueDevToken: auth.issueDevToken,
        uploadOrigin: emulator.endpoint,
        queueDepth: async () => {
          const names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"] as const;
          const { Attributes = {} } = await emulator.sqs.send(new GetQueueAttributesCommand({ QueueUrl: emulator.queueUrl, AttributeNames: [...names] }));
          return names.reduce((sum, name) => sum + Number(Attributes[name] ?? 0), 0);
        },
        getObject: async (key) => {
          try {
            const object = await emulator.s3.send(new GetObjectCommand({ Bucket: LOCAL_BUCKET, Key: key }));
            return { bytes: await object.Body!.transformToByteArray(), contentType: object.ContentType ?? "application/octet-stream" };
          } catch {
            return undefined;
          }
        },
      }),
    );
    // Uploads are signed for the local S3, exactly as the API Lambda signs for the bucket.
    const uploads = createUploadSigner({
      bucket: LOCAL_BUCKET,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      endpoint: emulator.endpoint,
      maxBytes: MAX_OBJECT_BYTES,
    });
    app.route(
      "/",
      createApiApp({
        readUser: cachedReader(store, {}, apiMetrics),
        readFailures: (userId) => store.failures(userId),
        nearest: (userId, imageId, limit, view) => store.nearest(userId, imageId, limit, view),
        verifyToken: auth.verifyToken,
        model,
        logger: logger.child({ component: "api" }),
        metrics: apiMetrics,
        uploads,
        photos: createPhotoDeleter({ bucket: LOCAL_BUCKET, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: emulator.endpoint }),
      }),
    );
    const server = await listen(app, apiPort);
    const boundPort = (server.address() as AddressInfo).port;
    stops.push(() => new Promise<void>((r) => server.close(() => r())));

    return {
      apiUrl: `http://127.0.0.1:${boundPort}`,
      emulator,
      store,
      auth,
      stop,
      get modelServerUrl() {
        return modelServer.url();
      },
      get modelServerPid() {
        return modelServer.pid();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function listen(app: Hono, port: number) {
  return new Promise<ReturnType<typeof serve>>((resolveServer, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }, () => resolveServer(server));
    server.once("error", reject);
  });
}

/** The port itself, or a free one for 0; a taken port fails now with the variable to change. */
async function claimPort(port: number, variable: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE"
          ? new PortInUseError(`port ${port} on 127.0.0.1 is already in use; stop what uses it or set ${variable} to another port`)
          : error,
      ),
    );
    probe.listen(port, "127.0.0.1", () => {
      const actual = (probe.address() as { port: number }).port;
      probe.close(() => resolvePort(actual));
    });
  });
}
