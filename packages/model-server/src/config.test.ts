import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, descriptorFileText, mobilenetV2Int8 } from "@photo-clusters/core";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.ts";
import { MODEL_PATH } from "../test/testing.ts";

describe("loadConfig", () => {
  it("defaults to MobileNetV2 on 0.0.0.0:8080 with one thread", () => {
    const config = loadConfig({});
    expect(config.model.id).toBe("mobilenetv2-12-int8");
    expect(config).toMatchObject({ host: "0.0.0.0", port: 8080, threads: 1, modelPath: undefined });
    expect(config.limits).toEqual({ maxBytes: 6 * 1024 * 1024, maxPixels: 50_000_000 });
  });

  it("reads the container's variables", () => {
    const config = loadConfig({ MODEL_ID: "resnet50-v1-12", MODEL_PATH, PORT: "9000", ORT_THREADS: "2", MAX_BODY_BYTES: "4194304" });
    expect(config.model.dimension).toBe(2048);
    expect(config).toMatchObject({ modelPath: MODEL_PATH, port: 9000, threads: 2, limits: { maxBytes: 4194304 } });
  });

  it("lists every problem in one clear error", () => {
    const error = (() => {
      try {
        loadConfig({ MODEL_ID: "resnet9000", MODEL_PATH: "/nope.onnx", PORT: "http", ORT_THREADS: "0" });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('MODEL_ID="resnet9000" is not a known model; known: mobilenetv2-12-int8, resnet50-v1-12');
    expect(message).toContain('MODEL_PATH="/nope.onnx" does not exist');
    expect(message).toContain('PORT="http" must be an integer from 0 to 65535');
    expect(message).toContain('ORT_THREADS="0" must be an integer from 1 to 64');
  });

  it("serves the model of a MODEL_DESCRIPTOR file, and names a bad field in it", () => {
    const dir = mkdtempSync(join(tmpdir(), "descriptor-"));
    try {
      const path = join(dir, "m.json");
      const centred = { ...mobilenetV2Int8, id: "mobilenetv2-12-int8-centred-0000abcd", postprocess: { center: new Array(1280).fill(0.01) } };
      writeFileSync(path, descriptorFileText(centred));
      expect(loadConfig({ MODEL_DESCRIPTOR: path }).model).toEqual(centred);
      writeFileSync(path, descriptorFileText(centred).replace('"format": 1', '"format": 0'));
      expect(() => loadConfig({ MODEL_DESCRIPTOR: path })).toThrow("MODEL_DESCRIPTOR: format: must be 1, got 0");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes PORT=0 for any free port, which the server reports once bound", () => {
    expect(loadConfig({ MODEL_PATH, PORT: "0" }).port).toBe(0);
  });
});
