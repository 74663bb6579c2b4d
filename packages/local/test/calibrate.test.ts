import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { descriptorFileText, mobilenetV2Int8, pairwiseScores, parseGroupsCsv, silentLogger } from "@photo-clusters/core";
import { startModelServer, type ModelServer } from "@photo-clusters/model-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localConfig } from "../src/config.ts";
import { getAllClusters, clustersUrl } from "../src/cli/api-client.ts";
import { collectPhotos, putToBucket, uploadPhotos } from "../src/cli/upload.ts";
import { startLocalRuntime } from "../src/runtime.ts";

const REPO = join(import.meta.dirname, "../../..");
const SHARED = join(REPO, "../shared");
const PHOTOS = join(SHARED, "data/dev-photos");
const MODEL_PATH = join(SHARED, "models/mobilenetv2-12-int8.onnx");

function photoClusters(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "packages/local/src/cli/main.ts", ...args],
      { cwd: REPO, timeout: 180_000, env: { ...process.env, ...env } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The F1 column of the table that follows `heading` in the command's output. */
function f1s(stdout: string, heading: string): number[] {
  const section = stdout.slice(stdout.indexOf(heading));
  return ["0.80", "0.85", "0.90"].map((t) =>
    Number(
      section
        .split("\n")
        .find((l) => l.startsWith(t))!
        .trim()
        .split(/\s+/)[3],
    ),
  );
}

describe("pnpm photo-clusters calibrate", () => {
  let dir: string;
  let server: ModelServer;
  let groups: Map<string, string>;

  beforeAll(async () => {
    // A small labelled folder: the first 8 groups of 3+ photos in groups.csv (by name) and 6 photos alone.
    const all = parseGroupsCsv(await readFile(join(PHOTOS, "groups.csv"), "utf8"));
    const members = new Map<string, string[]>();
    for (const [file, group] of all) members.set(group, [...(members.get(group) ?? []), file]);
    const names = [...members.keys()].sort();
    const picked = [...names.filter((g) => members.get(g)!.length >= 3).slice(0, 8), ...names.filter((g) => members.get(g)!.length === 1).slice(0, 6)];
    groups = new Map(picked.flatMap((g) => members.get(g)!.map((file) => [file, g] as const)));
    dir = await mkdtemp(join(tmpdir(), "calibrate-test-"));
    for (const file of groups.keys()) await symlink(join(PHOTOS, file), join(dir, file));
    await writeFile(join(dir, "groups.csv"), `${["file,group", ...[...groups].map(([f, g]) => `${f},${g}`)].join("\n")}\n`);
    // The endpoint: the model server speaks SageMaker's InvokeEndpoint (POST /endpoints/<name>/invocations).
    server = await startModelServer({ model: mobilenetV2Int8, modelPath: MODEL_PATH, port: 0, host: "127.0.0.1", logger: silentLogger });
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("fits a centred model through an endpoint, and the local runtime then serves with its descriptor", async () => {
    // Act: calibrate through the SageMaker runtime client pointed at the model server.
    const out = join(dir, "descriptor.json");
    const { code, stdout, stderr } = await photoClusters(
      ["calibrate", dir, "--endpoint", "photos", "--endpoint-url", server.url, "--region", "us-east-1", "--center", "--out", out],
      { AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local" },
    );

    // Assert: both figures, and a descriptor of a new model id with its centre.
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/model mobilenetv2-12-int8-centred-[0-9a-f]{8} \(mobilenetv2-12-int8, mean-centred\)/);
    for (const f1 of [...f1s(stdout, "in-sample"), ...f1s(stdout, "cross-validated")]) expect(f1).toBeGreaterThan(0.8);
    const file = JSON.parse(await readFile(out, "utf8"));
    expect(file.format).toBe(1);
    expect(file.model.id).toMatch(/^mobilenetv2-12-int8-centred-[0-9a-f]{8}$/);
    expect(file.model.postprocess.center).toHaveLength(1280);
    expect(file.fit.crossValidated.map((r: { threshold: number }) => r.threshold)).toEqual([0.8, 0.85, 0.9]);

    // Act: the local runtime with MODEL_DESCRIPTOR, the photos uploaded through S3.
    const config = localConfig({ MODEL_DESCRIPTOR: out });
    const dataDir = await mkdtemp(join(tmpdir(), "calibrate-runtime-"));
    const runtime = await startLocalRuntime({
      ...config,
      port: 0,
      emulatorPort: 0,
      dataDir,
      modelPath: MODEL_PATH,
      logger: silentLogger,
      queueDelaySeconds: 0,
    });
    try {
      const items = await collectPhotos("dana", [dir]);
      await uploadPhotos(putToBucket(runtime.emulator.s3, "photos"), items, { quiet: true });
      for (let i = 0; i < 300 && (await runtime.store.readView("dana")).imageCount < items.length; i++) await new Promise((r) => setTimeout(r, 200));
      const body = await getAllClusters(clustersUrl(runtime.apiUrl, "dana"), await runtime.auth.issueDevToken("dana", 60));

      // Assert: answered by the calibrated model at its default threshold, with its centred vectors.
      expect(body.model).toBe(file.model.id);
      expect(body.threshold).toBe(file.model.defaults.threshold);
      expect(body.imageCount).toBe(groups.size);
      const scores = pairwiseScores(
        body.clusters.map((c) => c.images.map((i) => `${i.imageId}.jpg`)),
        groups,
      );
      expect(scores.f1).toBeGreaterThan(0.9);
    } finally {
      await runtime.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("refuses a descriptor failing its checks, naming the field", async () => {
    // Arrange
    const bad = join(dir, "bad.json");
    const good = JSON.parse(descriptorFileText(mobilenetV2Int8));
    await writeFile(bad, JSON.stringify({ ...good, model: { ...good.model, defaults: { ...good.model.defaults, graphFloor: 2 } } }));

    // Act
    const { code, stderr } = await photoClusters(["status", "--user", "x"], { MODEL_DESCRIPTOR: bad });

    // Assert
    expect(code).toBe(1);
    expect(stderr).toContain("MODEL_DESCRIPTOR: model.defaults.graphFloor: must be a number from 0.01 to 1, got 2");
  });
});
