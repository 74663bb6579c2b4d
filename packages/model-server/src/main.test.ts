import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bundleModelServer } from "./bundle.ts";
import { MODEL_PATH, photo } from "../test/testing.ts";

// The bundle goes inside this package so it resolves onnxruntime-node and sharp like the image does.
const outDir = join(import.meta.dirname, "../dist-test");

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const port = (probe.address() as { port: number }).port;
  probe.close();
  return port;
}

function run(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [join(outDir, "main.mjs"), ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = once(child, "exit").then(([code]) => code as number);
  return { child, exited, output: () => output };
}

afterAll(async () => {
  const { rm } = await import("node:fs/promises");
  await rm(outDir, { recursive: true, force: true });
});

describe("the bundled container entrypoint", () => {
  it("serves /ping and /invocations when started with `serve`", async () => {
    // Prepare
    bundleModelServer(outDir);
    const port = await freePort();
    const server = run(["serve"], { MODEL_PATH, PORT: String(port), HOST: "127.0.0.1" });
    try {
      // Act: wait for the model, as SageMaker does.
      let ping = 0;
      for (let i = 0; i < 100 && ping !== 200; i++) {
        ping = await fetch(`http://127.0.0.1:${port}/ping`).then(
          (r) => r.status,
          () => 0,
        );
        if (ping !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      const response = await fetch(`http://127.0.0.1:${port}/invocations`, {
        method: "POST",
        body: photo("00d7a649.jpg"),
        headers: { "content-type": "image/jpeg" },
      });
      // Assess
      expect(ping).toBe(200);
      expect(((await response.json()) as { dimension: number }).dimension).toBe(1280);
    } finally {
      server.child.kill("SIGTERM");
    }
    expect(await server.exited).toBe(0);
  });

  it("exits non-zero with a clear message for a bad environment or argument", async () => {
    bundleModelServer(outDir);
    const badEnv = run(["serve"], { MODEL_PATH: "/nope.onnx" });
    expect(await badEnv.exited).toBe(1);
    expect(badEnv.output()).toContain('MODEL_PATH=\\"/nope.onnx\\" does not exist');
    const badArg = run(["train"], { MODEL_PATH });
    expect(await badArg.exited).toBe(2);
    expect(badArg.output()).toContain("usage: main [serve]");
  });
});
