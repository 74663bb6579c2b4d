import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleSizes, type BundleSize } from "./bundle-sizes.ts";
import { removeSynthOutput, synthStage } from "./test-helpers.ts";

afterAll(removeSynthOutput);

// The real esbuild bundles, as `sst deploy` and `pnpm synth` build them. The poller's sharp is
// installed for linux-arm64 from the npm registry (cached by npm after the first run).
let bundles: Map<string, BundleSize & { dir: string }>;

beforeAll(async () => {
  const { assembly } = await synthStage("prod", { bundle: true });
  bundles = new Map(
    bundleSizes(assembly).map((b) => {
      const fn = (assembly.getStackByName(b.stack).template as any).Resources[b.logicalId];
      const dir = path.join(assembly.directory, `asset.${fn.Properties.Code.S3Key.replace(/\.zip$/, "")}`);
      return [b.handler.replace(/^packages\/functions\/src\/|\.handler$/g, ""), { ...b, dir }];
    }),
  );
}, 180_000);

// SST runs `npm install` in every bundle's directory, leaving a package.json even when nothing is installed.
const code = (b: BundleSize) => b.files.filter((f) => !["package.json", "package-lock.json"].includes(f));
const read = (b: BundleSize & { dir: string }, file: string) => fs.readFileSync(path.join(b.dir, file), "utf8");

describe("the Lambda bundles", () => {
  it("hold no benchmark or test code (the bench/ and test/ folders' string literals, which minifying keeps)", () => {
    for (const [name, b] of bundles) {
      const text = read(b, `packages/functions/src/${name}.mjs`);
      expect(text, name).not.toMatch(/"(pc-bench-|bench-api-|bench-serve-|bench-emission-|bench-backfill-|api-auth-|beach-1)"/);
    }
  });

  it("bundle each handler into one ESM file at its handler path", () => {
    expect([...bundles.keys()].sort()).toEqual(["api", "poller", "writer"]);
    for (const [name, b] of bundles) expect(b.files, name).toContain(`packages/functions/src/${name}.mjs`);
  });

  it("keep the API small and free of the model runtime and image libraries", () => {
    const api = bundles.get("api")!;
    expect(code(api)).toEqual(["packages/functions/src/api.mjs"]);
    expect(api.bytes).toBeLessThan(1_000_000);
    expect(read(api, "packages/functions/src/api.mjs")).not.toMatch(/onnxruntime|sharp-libvips|@aws-sdk\/client-sagemaker/);
  });

  it("keep the writer small, with no AWS SDK client at all", () => {
    const writer = bundles.get("writer")!;
    expect(code(writer)).toEqual(["packages/functions/src/writer.mjs"]);
    expect(writer.bytes).toBeLessThan(500_000);
    expect(read(writer, "packages/functions/src/writer.mjs")).not.toMatch(/onnxruntime|SageMakerRuntimeClient|S3Client/);
  });

  it("ship the poller's sharp for Lambda's linux-arm64 and its HEIC decoder's WebAssembly, outside the bundle", () => {
    const poller = bundles.get("poller")!;
    expect(poller.files).toEqual(
      expect.arrayContaining([
        "node_modules/sharp/package.json",
        "node_modules/@img/sharp-linux-arm64/package.json",
        "node_modules/libheif-js/wasm-bundle.js",
        "node_modules/libheif-js/libheif-wasm/libheif-bundle.js",
      ]),
    );
    // Loaded on the first HEIC, not at cold start: the bundle imports it by name.
    expect(read(poller, "packages/functions/src/poller.mjs")).toMatch(/import\(\s*"libheif-js\/wasm-bundle"\s*\)/);
    expect(poller.files.some((f) => f.includes("sharp-linux-x64") || f.includes("sharp-darwin"))).toBe(false);
    expect(read(poller, "packages/functions/src/poller.mjs")).not.toMatch(/onnxruntime/);
    expect(poller.deflated).toBeLessThan(50_000_000);
  });
});
