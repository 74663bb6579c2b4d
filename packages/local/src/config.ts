import { chooseModel, ConfigError, jsonLogger, mobilenetV2Int8, type ModelDescriptor } from "@photo-clusters/core";
import type { LocalRuntimeOptions } from "./runtime.ts";

/** The local runtime's settings, all from the environment, with the defaults of DESIGN.md. */
/**
 * The runtime's settings as the environment gives them (LocalRuntimeOptions, less what only tests
 * set), with the model file still to be found (MODEL_PATH when set), and the CLI's own.
 */
export interface LocalConfig
  extends Pick<
    LocalRuntimeOptions,
    "port" | "emulatorPort" | "dataDir" | "model" | "modelDescriptor" | "queueDelaySeconds" | "visibilityTimeoutSeconds" | "maxReceiveCount" | "logger"
  > {
  modelPath?: string;
  /** API_URL: the API the CLI talks to; by default the local one on PORT. */
  apiUrl: string;
  /** AWS_REGION, for the CLI's commands that reach AWS (calibrate --endpoint); us-east-1 when unset. */
  awsRegion: string;
}

/**
 * On Node 20 every SDK client prints a 7-line warning that SDK releases after January 2027 need
 * Node 22. The lockfile pins today's SDK and the Lambdas run Node 24 (docs/development.md): the
 * local entry points (pnpm start, the CLI) silence it before they make a client.
 */
export function quietSdkNodeWarning(env: NodeJS.ProcessEnv = process.env): void {
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
}

export function localConfig(env: NodeJS.ProcessEnv = process.env): LocalConfig {
  const level = env.LOG_LEVEL ?? "info";
  if (!["debug", "info", "warn", "error"].includes(level)) throw new ConfigError(`LOG_LEVEL must be debug, info, warn or error, not "${level}"`);
  const port = integer(env, "PORT", 3000, 0, 65535);
  return {
    port,
    emulatorPort: integer(env, "EMULATOR_PORT", 4566, 0, 65535),
    dataDir: env.DATA_DIR || ".data",
    modelPath: env.MODEL_PATH || undefined,
    model: model(env.MODEL_ID, env.MODEL_DESCRIPTOR),
    modelDescriptor: env.MODEL_DESCRIPTOR || undefined,
    queueDelaySeconds: integer(env, "QUEUE_DELAY_SECONDS", 1, 0, 900),
    visibilityTimeoutSeconds: integer(env, "VISIBILITY_TIMEOUT_SECONDS", 30, 1, 43200),
    maxReceiveCount: integer(env, "MAX_RECEIVE_COUNT", 3, 1, 1000),
    logger: jsonLogger({}, { level: level as "info" }),
    apiUrl: env.API_URL || `http://127.0.0.1:${port}`,
    awsRegion: env.AWS_REGION || "us-east-1",
  };
}

function model(id: string | undefined, descriptorPath: string | undefined): ModelDescriptor {
  try {
    return chooseModel({ modelId: id || undefined, descriptorPath: descriptorPath || undefined, fallback: mobilenetV2Int8 });
  } catch (error) {
    throw new ConfigError(`${descriptorPath ? "MODEL_DESCRIPTOR" : "MODEL_ID"}: ${(error as Error).message}`);
  }
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}, not "${raw}"`);
  return value;
}
