import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, descriptorFileText, resnet50V1 } from "@photo-clusters/core";
import { describe, expect, it } from "vitest";
import { apiConfig, apiExactBudget, pollerConfig, uploadCredentials, writerConfig, writerMemoryBudget } from "./config.ts";

const api = {
  DATA_DIR: "/mnt/embeddings",
  MODEL_ID: "mobilenetv2-12-int8",
  JWT_ISSUER: "https://issuer.example/pool",
  JWT_AUDIENCE: "client-1",
  PHOTOS_BUCKET: "photos-bucket",
  AWS_REGION: "eu-west-1",
};

describe("apiConfig", () => {
  it("reads the data directory, the model and the token issuer", () => {
    const cfg = apiConfig(api);
    expect(cfg.dataDir).toBe("/mnt/embeddings");
    expect(cfg.model.id).toBe("mobilenetv2-12-int8");
    expect(cfg.auth).toEqual({ issuer: "https://issuer.example/pool", audience: ["client-1"], jwksUrl: "https://issuer.example/pool/.well-known/jwks.json" });
  });

  it("gives the exact path a quarter of the function's memory and half of its timeout", () => {
    const cfg = apiConfig({ ...api, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "1769", API_TIMEOUT_SECONDS: "10" });
    expect(apiExactBudget(cfg)).toEqual({ memoryBytes: (1769 * 2 ** 20) / 4, seconds: 5 });
    expect(apiConfig(api).timeoutSeconds).toBe(10);
    expect(() => apiConfig({ ...api, API_TIMEOUT_SECONDS: "soon" })).toThrow(ConfigError);
  });

  it("accepts several audiences, comma-separated as the stack passes them", () => {
    expect(apiConfig({ ...api, JWT_AUDIENCE: "web-client, mobile-client" }).auth.audience).toEqual(["web-client", "mobile-client"]);
  });

  it("sends metrics to the stage's namespace, or the local one when none is set", () => {
    expect(apiConfig({ ...api, METRICS_NAMESPACE: "photo-clusters/prod" }).metricsNamespace).toBe("photo-clusters/prod");
    expect(writerConfig({ DATA_DIR: "/d", MODEL_ID: "mobilenetv2-12-int8" }).metricsNamespace).toBe("photo-clusters/local");
  });

  it("takes an explicit JWKS URL", () => {
    expect(apiConfig({ ...api, JWT_JWKS_URL: "https://keys.example/jwks" }).auth.jwksUrl).toBe("https://keys.example/jwks");
  });

  it("names every missing variable in one error", () => {
    try {
      apiConfig({});
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      for (const name of ["DATA_DIR", "MODEL_ID", "JWT_ISSUER", "JWT_AUDIENCE", "PHOTOS_BUCKET"]) expect(message).toContain(name);
    }
  });

  it("rejects an unknown model with the known ones listed", () => {
    expect(() => apiConfig({ ...api, MODEL_ID: "vgg" })).toThrow(/MODEL_ID "vgg" is not a known model \(one of .*mobilenetv2-12-int8/);
  });

  it("serves the model of a descriptor file named by MODEL_DESCRIPTOR, and refuses a bad one naming its field", () => {
    const dir = mkdtempSync(join(tmpdir(), "descriptor-"));
    try {
      const path = join(dir, "d.json");
      writeFileSync(path, descriptorFileText({ ...resnet50V1, defaults: { ...resnet50V1.defaults, threshold: 0.9 } }));
      expect(apiConfig({ ...api, MODEL_ID: "", MODEL_DESCRIPTOR: path }).model).toMatchObject({ id: resnet50V1.id, defaults: { threshold: 0.9 } });
      writeFileSync(path, descriptorFileText(resnet50V1).replace('"threshold": 0.85', '"threshold": "high"'));
      expect(() => writerConfig({ DATA_DIR: "/d", MODEL_DESCRIPTOR: path })).toThrow(
        /MODEL_DESCRIPTOR: model.defaults.threshold: must be a number from 0 to 1, got "high"/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects a JWKS URL that is not https", () => {
    expect(() => apiConfig({ ...api, JWT_JWKS_URL: "http://keys.example/jwks" })).toThrow(/JWT_JWKS_URL must be an https URL/);
  });
});

describe("writerConfig", () => {
  it("reads the data directory and the model", () => {
    expect(writerConfig({ DATA_DIR: "/d", MODEL_ID: "mobilenetv2-12-int8" })).toMatchObject({ dataDir: "/d", model: { id: "mobilenetv2-12-int8" } });
    expect(() => writerConfig({ MODEL_ID: "mobilenetv2-12-int8" })).toThrow(/DATA_DIR is not set/);
  });

  it("gives the store's LiveSets half the function's memory, split with the previous model's store during a switch", () => {
    const env = { DATA_DIR: "/d", MODEL_ID: "resnet50-v1-12", AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "1024" };
    expect(writerMemoryBudget(writerConfig(env))).toBe(512 * 1024 * 1024);
    expect(writerMemoryBudget(writerConfig({ ...env, PREVIOUS_MODEL_ID: "mobilenetv2-12-int8" }))).toBe(256 * 1024 * 1024);
    expect(() => writerConfig({ ...env, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "lots" })).toThrow(/AWS_LAMBDA_FUNCTION_MEMORY_SIZE must be a positive integer/);
  });
});

describe("pollerConfig", () => {
  const poller = { BUCKET_NAME: "photos", ENDPOINT_NAME: "embed", WRITER_FUNCTION_NAME: "writer", MODEL_ID: "mobilenetv2-12-int8" };

  it("reads its names and the model, whose input scale sets the image the endpoint is sent", () => {
    expect(pollerConfig(poller)).toMatchObject({ bucketName: "photos", endpointName: "embed", writerFunctionName: "writer" });
    expect(pollerConfig(poller).model.input.preprocessing.resizeShorter).toBe(256);
  });

  it("embeds 4 photos at once unless the stack says fewer, and refuses 0", () => {
    expect(pollerConfig(poller).embedConcurrency).toBe(4);
    expect(pollerConfig({ ...poller, EMBED_CONCURRENCY: "1" }).embedConcurrency).toBe(1);
    expect(() => pollerConfig({ ...poller, EMBED_CONCURRENCY: "0" })).toThrow(/EMBED_CONCURRENCY must be a positive integer/);
  });
});

describe("uploadCredentials", () => {
  it("reads the function's own credentials for signing upload forms, and names what is missing", () => {
    expect(uploadCredentials({ AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "s", AWS_SESSION_TOKEN: "t" })).toEqual({
      accessKeyId: "AKID",
      secretAccessKey: "s",
      sessionToken: "t",
    });
    expect(() => uploadCredentials({ AWS_ACCESS_KEY_ID: "AKID" })).toThrow(/AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set/);
  });
});
