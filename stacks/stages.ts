/**
 * Per-stage settings: the one place to change sizes, delays, concurrency and what happens to
 * data when a stage is removed. `prod` keeps its data; every other stage is disposable.
 */
export interface StageSettings {
  /** What happens to the bucket, the file system and the log groups when the stage is removed. */
  removal: "retain" | "destroy";
  logRetentionDays: 7 | 30 | 90 | 365;
  /**
   * Web origins (e.g. "https://app.example.com") whose pages may call the API and post presigned
   * uploads to the bucket: both get a CORS rule for exactly these. Empty (the default) for native
   * apps and the CLI, which CORS does not concern; no wildcard is accepted.
   */
  browserOrigins: string[];
  queue: {
    /** Delivery delay, so a burst of uploads and quick deletes settles before we embed. */
    deliveryDelaySeconds: number;
    maxReceiveCount: number;
    /** Messages in the dead-letter queue at or above this raise the alarm. */
    dlqAlarmThreshold: number;
    /**
     * The oldest message waiting longer than this (seconds) raises the backlog alarm. Above the
     * delivery delay plus one visibility timeout, so one photo that failed once and waits for its
     * retry does not page by itself.
     */
    oldestMessageAlarmSeconds: number;
  };
  poller: { timeoutSeconds: number; memoryMb: number; batchSize: number; maxBatchingWindowSeconds: number };
  endpoint: {
    /** SageMaker serverless memory: 1024..6144 in steps of 1024. */
    memoryMb: number;
    /** SageMaker serverless max concurrency; the poller never has more requests in flight (see pollerConcurrency). */
    maxConcurrency: number;
  };
  writer: { timeoutSeconds: number; memoryMb: number };
  api: {
    timeoutSeconds: number;
    memoryMb: number;
    /**
     * Warm instances behind the `live` alias. Application Auto Scaling keeps between `min` and `max`,
     * aiming at `utilizationTarget` (0.1..0.9) of them busy. `min` 0 leaves the alias on demand,
     * with no scalable target at all.
     */
    provisionedConcurrency: { min: number; max: number; utilizationTarget: number };
    /** Stage-wide request rate (per second) and burst of the HTTP API. */
    throttle: { rateLimit: number; burstLimit: number };
    /** The HTTP API's p99 latency (ms, as API Gateway measures it) above this for 15 minutes raises the alarm. */
    p99LatencyAlarmMs: number;
  };
}

const development: StageSettings = {
  removal: "destroy",
  logRetentionDays: 7,
  browserOrigins: [],
  queue: { deliveryDelaySeconds: 5, maxReceiveCount: 3, dlqAlarmThreshold: 1, oldestMessageAlarmSeconds: 3600 },
  poller: { timeoutSeconds: 120, memoryMb: 1024, batchSize: 5, maxBatchingWindowSeconds: 5 },
  // The model server's measured peak and ResNet-50's estimated one fit in half of this (docs/edge.md).
  endpoint: { memoryMb: 2048, maxConcurrency: 2 },
  writer: { timeoutSeconds: 30, memoryMb: 512 },
  api: {
    timeoutSeconds: 10,
    memoryMb: 1024,
    provisionedConcurrency: { min: 0, max: 0, utilizationTarget: 0.7 },
    throttle: { rateLimit: 20, burstLimit: 40 },
    p99LatencyAlarmMs: 3000,
  },
};

const production: StageSettings = {
  removal: "retain",
  logRetentionDays: 90,
  browserOrigins: [],
  queue: { deliveryDelaySeconds: 10, maxReceiveCount: 5, dlqAlarmThreshold: 1, oldestMessageAlarmSeconds: 1800 },
  poller: { timeoutSeconds: 120, memoryMb: 1536, batchSize: 10, maxBatchingWindowSeconds: 5 },
  // Until the ResNet image's peak is measured, prod keeps more than three times its estimate (docs/edge.md).
  endpoint: { memoryMb: 3072, maxConcurrency: 20 },
  // Half of it is the store's budget: about 222,000 photos of 2048 dimensions in compact rows, larger
  // users streamed (docs/store.md#the-writers-memory).
  writer: { timeoutSeconds: 30, memoryMb: 1024 },
  api: {
    timeoutSeconds: 10,
    memoryMb: 1769,
    provisionedConcurrency: { min: 2, max: 10, utilizationTarget: 0.7 },
    throttle: { rateLimit: 200, burstLimit: 400 },
    p99LatencyAlarmMs: 1000,
  },
};

/** Stage name → settings. Stages not listed here get the development settings. */
export const STAGES: Record<string, StageSettings> = { prod: production, production };

export function stageSettings(stage: string): StageSettings {
  const settings = STAGES[stage] ?? development;
  validate(stage, settings);
  return settings;
}

/** Fail synthesis early, with the setting's name, rather than at deploy time in CloudFormation. */
export function validate(stage: string, s: StageSettings): void {
  const problems: string[] = [];
  const check = (ok: boolean, message: string) => ok || problems.push(message);
  check(
    s.endpoint.memoryMb % 1024 === 0 && s.endpoint.memoryMb >= 1024 && s.endpoint.memoryMb <= 6144,
    "endpoint.memoryMb must be 1024..6144 in steps of 1024",
  );
  // The poller's SQS maximum concurrency is set to the endpoint's, and SQS needs at least 2.
  check(s.endpoint.maxConcurrency >= 2 && s.endpoint.maxConcurrency <= 200, "endpoint.maxConcurrency must be 2..200");
  check(s.queue.deliveryDelaySeconds >= 0 && s.queue.deliveryDelaySeconds <= 900, "queue.deliveryDelaySeconds must be 0..900");
  check(s.queue.maxReceiveCount >= 1 && s.queue.maxReceiveCount <= 1000, "queue.maxReceiveCount must be 1..1000");
  check(s.poller.batchSize >= 1 && s.poller.batchSize <= 10000, "poller.batchSize must be 1..10000");
  check(s.poller.batchSize <= 10 || s.poller.maxBatchingWindowSeconds > 0, "poller.batchSize over 10 needs a batching window");
  // 6× the poller's timeout, the queue's visibility timeout, must stay within SQS's 12 hours.
  check(s.poller.timeoutSeconds * 6 <= 43_200 && s.poller.timeoutSeconds <= 900, "poller.timeoutSeconds must be at most 900");
  // The poller waits for the writer synchronously: the writer must finish first.
  check(s.writer.timeoutSeconds < s.poller.timeoutSeconds, "writer.timeoutSeconds must be below poller.timeoutSeconds");
  check(s.api.timeoutSeconds <= 29, "api.timeoutSeconds must be at most 29 (the HTTP API's integration limit)");
  const pc = s.api.provisionedConcurrency;
  check(
    Number.isInteger(pc.min) && Number.isInteger(pc.max) && pc.min >= 0 && pc.min <= pc.max,
    "api.provisionedConcurrency.min and .max must be whole numbers with 0 ≤ min ≤ max",
  );
  // Application Auto Scaling cannot start from zero warm instances: 0 means on demand, not scaled.
  check(pc.min > 0 || pc.max === 0, "api.provisionedConcurrency.max must be 0 when min is 0 (on demand, no autoscaling)");
  check(pc.utilizationTarget >= 0.1 && pc.utilizationTarget <= 0.9, "api.provisionedConcurrency.utilizationTarget must be 0.1..0.9");
  check(s.api.p99LatencyAlarmMs > 0, "api.p99LatencyAlarmMs must be above 0");
  check(
    s.queue.oldestMessageAlarmSeconds > s.queue.deliveryDelaySeconds + 6 * s.poller.timeoutSeconds,
    "queue.oldestMessageAlarmSeconds must exceed the delivery delay plus one visibility timeout (6 × poller.timeoutSeconds)",
  );
  for (const origin of s.browserOrigins) check(isBrowserOrigin(origin, s.removal === "destroy"), `browserOrigins: "${origin}" ${ORIGIN_RULE}`);
  if (problems.length) throw new Error(`stage "${stage}": ${problems.join("; ")}`);
}

/**
 * How the poller stays within the endpoint's concurrency: SQS runs at most `invocations` pollers at
 * once (2 at the least), and each embeds `perInvocation` photos at a time, so no more than the
 * endpoint's maximum are ever in flight and the rest wait in the queue instead of being throttled.
 */
export function pollerConcurrency(endpointMaxConcurrency: number): { invocations: number; perInvocation: number } {
  const perInvocation = Math.max(1, Math.min(4, Math.floor(endpointMaxConcurrency / 2)));
  return { invocations: Math.max(2, Math.floor(endpointMaxConcurrency / perInvocation)), perInvocation };
}

const ORIGIN_RULE = "must be an https origin, scheme and host (and port) only: no path, no wildcard; http only for localhost, and only in a disposable stage";

/** An origin as browsers send it (`new URL(o).origin === o`), https; http on loopback in disposable stages only. */
function isBrowserOrigin(origin: string, disposable: boolean): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.origin !== origin || origin.includes("*")) return false;
  if (url.protocol === "https:") return /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(url.hostname);
  return disposable && url.protocol === "http:" && ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
}
