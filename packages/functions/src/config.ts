/**
 * The only place the handlers read `process.env`. Each handler calls its function once at
 * cold start; a missing or malformed variable fails the init with every problem named at once.
 */
import { chooseModel, ConfigError, modelById, type ModelDescriptor, MODELS, parseDescriptorFile } from "@photo-clusters/core";
import type { ExactBudget } from "./api/clusters-view.ts";

/** Every problem of an environment at once. */
const invalid = (problems: string[]) => new ConfigError(`invalid configuration: ${problems.join("; ")}`, problems);

type Env = Record<string, string | undefined>;

/** The local runtime's namespace, and any run without METRICS_NAMESPACE. */
export const DEFAULT_METRICS_NAMESPACE = "photo-clusters/local";

/** Reads variables and remembers what was wrong, so one error lists all of it. */
class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  required(name: string, what: string): string {
    const value = this.env[name]?.trim();
    if (!value) {
      this.problems.push(`${name} is not set (${what})`);
      return "";
    }
    return value;
  }

  optional(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value ? value : undefined;
  }

  model(name = "MODEL_ID"): ModelDescriptor | undefined {
    // A descriptor (from `photo-clusters calibrate`) instead of a built-in model: MODEL_DESCRIPTOR names
    // its file; in Lambda the stack passes the file's content inline as MODEL_DESCRIPTOR_JSON.
    const [variable, descriptor] =
      name !== "MODEL_ID"
        ? []
        : this.optional("MODEL_DESCRIPTOR_JSON")
          ? ["MODEL_DESCRIPTOR_JSON", this.optional("MODEL_DESCRIPTOR_JSON")]
          : ["MODEL_DESCRIPTOR", this.optional("MODEL_DESCRIPTOR")];
    if (variable && descriptor) {
      try {
        const model = variable === "MODEL_DESCRIPTOR" ? chooseModel({ descriptorPath: descriptor }) : parseDescriptorFile(descriptor, variable);
        const id = this.optional("MODEL_ID");
        if (id && id !== model.id) throw new Error(`model.id: the descriptor is for "${model.id}", but MODEL_ID is "${id}"`);
        return model;
      } catch (error) {
        this.problems.push(`${variable}: ${(error as Error).message}`);
        return undefined;
      }
    }
    const id = this.required(name, `the embedding model id, one of ${Object.keys(MODELS).join(", ")}`);
    if (!id) return undefined;
    try {
      return modelById(id);
    } catch {
      this.problems.push(`${name} "${id}" is not a known model (one of ${Object.keys(MODELS).join(", ")})`);
      return undefined;
    }
  }

  /** PREVIOUS_MODEL_ID: during a model switch, the model that answers until the new one covers a user. */
  previousModel(current: ModelDescriptor | undefined): ModelDescriptor | undefined {
    if (!this.optional("PREVIOUS_MODEL_ID")) return undefined;
    const previous = this.model("PREVIOUS_MODEL_ID");
    if (previous && previous.id === current?.id) this.problems.push("PREVIOUS_MODEL_ID must differ from MODEL_ID");
    return previous;
  }

  url(name: string, value: string | undefined): string | undefined {
    if (value === undefined) return undefined;
    try {
      const url = new URL(value);
      if (url.protocol !== "https:" && url.hostname !== "127.0.0.1" && url.hostname !== "localhost") throw new Error();
      return url.toString();
    } catch {
      this.problems.push(`${name} must be an https URL, got "${value}"`);
      return undefined;
    }
  }

  positiveInteger(name: string, fallback: number): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (!/^\d{1,10}$/.test(raw) || Number(raw) < 1) {
      this.problems.push(`${name} must be a positive integer, got "${raw}"`);
      return fallback;
    }
    return Number(raw);
  }

  /** METRICS_NAMESPACE: where the EMF metrics go, one namespace per stage (the stack sets `photo-clusters/<stage>`). */
  metricsNamespace(): string {
    return this.optional("METRICS_NAMESPACE") ?? DEFAULT_METRICS_NAMESPACE;
  }

  /** Builds the config only when nothing was wrong, so `build` may assert what was read. */
  done<T>(build: () => T): T {
    if (this.problems.length) throw invalid(this.problems);
    return build();
  }
}

export interface ApiConfig {
  /** Where the per-user embedding files live (the EFS mount in AWS). */
  dataDir: string;
  model: ModelDescriptor;
  /** Used when a request did not come through API Gateway's JWT authorizer. */
  auth: { issuer: string; audience: string[]; jwksUrl: string };
  previousModel?: ModelDescriptor;
  /** The function's memory (Lambda sets AWS_LAMBDA_FUNCTION_MEMORY_SIZE); the view cache takes a share. */
  memoryMb: number;
  /** The function's timeout (the stack sets API_TIMEOUT_SECONDS from the stage's settings; default 10). */
  timeoutSeconds: number;
  /** The photo bucket that `POST /users/{userId}/uploads` signs for, and its region (Lambda sets AWS_REGION). */
  uploads: { bucket: string; region: string };
  metricsNamespace: string;
}

export function apiConfig(env: Env = process.env): ApiConfig {
  const r = new Reader(env);
  const dataDir = r.required("DATA_DIR", "the directory holding the embedding files, e.g. /mnt/embeddings");
  const model = r.model();
  const previousModel = r.previousModel(model);
  const issuer = r.required("JWT_ISSUER", "the token issuer URL the API accepts");
  // Comma-separated, as an HTTP API JWT authorizer lists its audiences (app client ids).
  const audience = r
    .required("JWT_AUDIENCE", "the token audiences (app client ids) the API accepts, comma-separated")
    .split(",")
    .map((a) => a.trim())
    .filter(Boolean);
  // Cognito, Auth0 and most OIDC providers publish their keys here.
  const jwksUrl = r.url("JWT_JWKS_URL", r.optional("JWT_JWKS_URL") ?? (issuer ? `${issuer.replace(/\/+$/, "")}/.well-known/jwks.json` : undefined));
  const memoryMb = r.positiveInteger("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 1024);
  const timeoutSeconds = r.positiveInteger("API_TIMEOUT_SECONDS", 10);
  const bucket = r.required("PHOTOS_BUCKET", "the photo bucket uploads are signed for");
  const region = r.required("AWS_REGION", "the region of the photo bucket (Lambda sets it)");
  const metricsNamespace = r.metricsNamespace();
  return r.done(() => ({
    dataDir,
    model: model!,
    auth: { issuer, audience, jwksUrl: jwksUrl! },
    previousModel,
    memoryMb,
    timeoutSeconds,
    uploads: { bucket, region },
    metricsNamespace,
  }));
}

/**
 * What one clusters request below the graph's floor (the exact path) may spend: a quarter of the
 * function's memory (the view cache has another) and half of its timeout (docs/api.md).
 */
export function apiExactBudget(config: Pick<ApiConfig, "memoryMb" | "timeoutSeconds">): ExactBudget {
  return { memoryBytes: (config.memoryMb * 2 ** 20) / 4, seconds: config.timeoutSeconds / 2 };
}

export interface WriterConfig {
  dataDir: string;
  model: ModelDescriptor;
  previousModel?: ModelDescriptor;
  metricsNamespace: string;
  /** The function's memory (Lambda sets AWS_LAMBDA_FUNCTION_MEMORY_SIZE); the store's LiveSets take a share. */
  memoryMb: number;
}

/**
 * What the writer's stores may hold in LiveSets: half the function's memory, the rest for Node, the
 * handler, one log chunk and a batch (docs/store.md#the-writers-memory). Shared by the current and the previous model's store.
 */
export function writerMemoryBudget(config: Pick<WriterConfig, "memoryMb" | "previousModel">): number {
  const half = (config.memoryMb * 1024 * 1024) / 2;
  return Math.floor(config.previousModel ? half / 2 : half);
}

export function writerConfig(env: Env = process.env): WriterConfig {
  const r = new Reader(env);
  const dataDir = r.required("DATA_DIR", "the directory holding the embedding files, e.g. /mnt/embeddings");
  const model = r.model();
  const previousModel = r.previousModel(model);
  const memoryMb = r.positiveInteger("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 1024);
  return r.done(() => ({ dataDir, model: model!, previousModel, metricsNamespace: r.metricsNamespace(), memoryMb }));
}

export interface PollerConfig {
  bucketName: string;
  endpointName: string;
  writerFunctionName: string;
  model: ModelDescriptor;
  /** Photos one invocation embeds at once; the stack sets it so that all pollers stay within the endpoint's concurrency. */
  embedConcurrency: number;
  maxReceiveCount: number;
  metricsNamespace: string;
}

/** No phone photo comes near this: the poller refuses anything larger before downloading it, and uploads are signed up to it. */
export const MAX_OBJECT_BYTES = 25 * 1024 * 1024;

export function pollerConfig(env: Env = process.env): PollerConfig {
  const r = new Reader(env);
  const bucketName = r.required("BUCKET_NAME", "the photos bucket");
  const endpointName = r.required("ENDPOINT_NAME", "the SageMaker embedding endpoint");
  const writerFunctionName = r.required("WRITER_FUNCTION_NAME", "the writer Lambda to invoke");
  const model = r.model();
  const embedConcurrency = r.positiveInteger("EMBED_CONCURRENCY", 4);
  // The queue's redrive maxReceiveCount: a message failing on that delivery is recorded as failed for good.
  const maxReceiveCount = r.positiveInteger("MAX_RECEIVE_COUNT", 3);
  return r.done(() => ({
    bucketName,
    endpointName,
    writerFunctionName,
    model: model!,
    embedConcurrency,
    maxReceiveCount,
    metricsNamespace: r.metricsNamespace(),
  }));
}

/**
 * The API function's own credentials, which Lambda puts in its environment (read on each signing:
 * they rotate), for signing upload forms.
 */
export function uploadCredentials(env: Env = process.env): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } {
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = env;
  if (!accessKeyId || !secretAccessKey) throw invalid(["AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set to sign uploads"]);
  return { accessKeyId, secretAccessKey, sessionToken };
}
