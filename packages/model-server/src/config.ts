/**
 * The entrypoint's environment, read once and checked up front. Every problem is reported in
 * one error so a misconfigured container fails at start with a message naming the variable.
 *
 *   MODEL_ID        model descriptor id (default mobilenetv2-12-int8; the image sets resnet50-v1-12)
 *   MODEL_DESCRIPTOR a descriptor file (`photo-clusters calibrate` writes one) used instead of the built-in one
 *   MODEL_PATH      ONNX file; if unset, the shared local copy or a checked download is used
 *   MODEL_CACHE_DIR where downloads are kept
 *   PORT            default 8080 (SageMaker's contract; SAGEMAKER_BIND_TO_PORT is honoured too); 0 for any free port
 *   HOST            default 0.0.0.0 (the container must accept SageMaker's connections)
 *   ORT_THREADS     onnxruntime intra-op threads, default 1
 *   MAX_BODY_BYTES  default 6291456 (6 MB); MAX_PIXELS default 50000000
 */
import { existsSync } from "node:fs";
import { chooseModel, ConfigError, mobilenetV2Int8, type ModelDescriptor, MODELS } from "@photo-clusters/core";
import { DEFAULT_LIMITS, type ImageLimits } from "./preprocess.ts";

export interface ServerConfig {
  model: ModelDescriptor;
  modelPath?: string;
  cacheDir?: string;
  host: string;
  port: number;
  threads: number;
  limits: ImageLimits;
  /** EXIT_WITH_PARENT=1: exit when stdin closes (the local runtime holds it open while it lives). */
  exitWithParent: boolean;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): ServerConfig {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name}="${raw}" must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };

  const modelId = env.MODEL_ID?.trim() || mobilenetV2Int8.id;
  const descriptorPath = env.MODEL_DESCRIPTOR?.trim() || undefined;
  let model: ModelDescriptor | undefined;
  if (descriptorPath) {
    try {
      model = chooseModel({ descriptorPath, modelId: env.MODEL_ID?.trim() || undefined });
    } catch (error) {
      problems.push(`MODEL_DESCRIPTOR: ${(error as Error).message}`);
    }
  } else {
    model = MODELS[modelId];
    if (!model) problems.push(`MODEL_ID="${modelId}" is not a known model; known: ${Object.keys(MODELS).join(", ")}`);
  }

  const modelPath = env.MODEL_PATH?.trim() || undefined;
  if (modelPath && !existsSync(modelPath)) problems.push(`MODEL_PATH="${modelPath}" does not exist`);

  const config: ServerConfig = {
    model: model ?? mobilenetV2Int8,
    modelPath,
    cacheDir: env.MODEL_CACHE_DIR?.trim() || undefined,
    host: env.HOST?.trim() || "0.0.0.0",
    // 0: any free port, bound once and reported in the "model server listening" log line (the local runtime).
    port: int("PORT", int("SAGEMAKER_BIND_TO_PORT", 8080, 1, 65535), 0, 65535),
    threads: int("ORT_THREADS", 1, 1, 64),
    limits: {
      maxBytes: int("MAX_BODY_BYTES", DEFAULT_LIMITS.maxBytes, 1024, 1024 * 1024 * 1024),
      maxPixels: int("MAX_PIXELS", DEFAULT_LIMITS.maxPixels, 224 * 224, 1_000_000_000),
    },
    exitWithParent: env.EXIT_WITH_PARENT === "1",
  };
  if (problems.length > 0) throw new ConfigError(`invalid model server environment:\n  - ${problems.join("\n  - ")}`, problems);
  return config;
}
