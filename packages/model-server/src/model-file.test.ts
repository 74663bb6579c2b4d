import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mobilenetV2Int8, type ModelDescriptor } from "@photo-clusters/core";
import { ModelFileError } from "./errors.ts";
import { resolveModelPath } from "./model-file.ts";
import { MODEL_PATH } from "../test/testing.ts";

const CONTENT = Buffer.from("pretend these are ONNX bytes");
const SHA = createHash("sha256").update(CONTENT).digest("hex");

let dir: string;
let server: Server;
let base: string;
let hits = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "model-file-"));
  server = createServer((req, res) => {
    hits++;
    if (req.url === "/model.onnx") res.end(CONTENT);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.close();
  await rm(dir, { recursive: true, force: true });
});

function served(path: string, sha256: string): ModelDescriptor {
  return { ...mobilenetV2Int8, id: `test-${path.replace(/\W/g, "")}`, source: { url: `${base}/${path}`, sha256 } };
}
const noSharedCopy = () => join(dir, "no-repo-here");

describe("resolveModelPath", () => {
  it("uses an explicit path that exists", async () => {
    expect(await resolveModelPath(mobilenetV2Int8, { modelPath: MODEL_PATH })).toBe(MODEL_PATH);
  });

  it("refuses an explicit path that does not exist", async () => {
    await expect(resolveModelPath(mobilenetV2Int8, { modelPath: "/nope/model.onnx" })).rejects.toThrow(
      new ModelFileError("model file /nope/model.onnx does not exist (set MODEL_PATH to an ONNX file)"),
    );
  });

  it("finds the shared copy next to the repository by default", async () => {
    expect(await resolveModelPath(mobilenetV2Int8)).toBe(MODEL_PATH);
  });

  it("downloads the pinned file into the cache, then reuses it", async () => {
    // Prepare
    const model = served("model.onnx", SHA);
    const cacheDir = join(dir, "cache-ok");
    // Act
    const first = await resolveModelPath(model, { cacheDir, repoRoot: noSharedCopy() });
    const hitsAfterFirst = hits;
    const second = await resolveModelPath(model, { cacheDir, repoRoot: noSharedCopy() });
    // Assess
    expect(first).toBe(second);
    expect(first.startsWith(cacheDir)).toBe(true);
    expect(hits).toBe(hitsAfterFirst);
  });

  it("refuses a download whose sha256 differs from the pin, and keeps nothing", async () => {
    // Prepare
    const wrong = "0".repeat(64);
    const cacheDir = join(dir, "cache-mismatch");
    // Act
    const error = await resolveModelPath(served("model.onnx", wrong), { cacheDir, repoRoot: noSharedCopy() }).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(ModelFileError);
    expect((error as Error).message).toContain(`has sha256 ${SHA}, expected ${wrong}; refusing to use it`);
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it("replaces a corrupted cached file", async () => {
    // Prepare
    const model = served("model.onnx", SHA);
    const cacheDir = join(dir, "cache-corrupt");
    const path = await resolveModelPath(model, { cacheDir, repoRoot: noSharedCopy() });
    await writeFile(path, "garbage");
    // Act
    const again = await resolveModelPath(model, { cacheDir, repoRoot: noSharedCopy() });
    // Assess
    expect(
      createHash("sha256")
        .update(await readFile(again))
        .digest("hex"),
    ).toBe(SHA);
  });

  it("reports an HTTP failure clearly", async () => {
    await expect(resolveModelPath(served("missing.onnx", SHA), { cacheDir: join(dir, "c404"), repoRoot: noSharedCopy() })).rejects.toThrow(/HTTP 404/);
  });
});
