import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Logger } from "@photo-clusters/core/logger";
import type { ModelDescriptor } from "@photo-clusters/core/models";

const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const ENTRYPOINT = fileURLToPath(new URL("../../model-server/src/main.ts", import.meta.url));

/**
 * The model server as its own process, started exactly as the SageMaker container starts it
 * (`main.ts serve`). Inference holds its process's event loop while it runs, so keeping it out of
 * the runtime's process lets S3, SQS, the poller and the writer use the other core meanwhile.
 */
export async function startModelServerProcess(options: { port: number; modelPath: string; model: ModelDescriptor; logger: Logger }): Promise<{ url: string; close(): Promise<void> }> {
  const child = spawn(process.execPath, ["--import", "tsx", ENTRYPOINT, "serve"], {
    cwd: REPO_ROOT,
    env: { ...process.env, HOST: "127.0.0.1", PORT: String(options.port), MODEL_PATH: options.modelPath, MODEL_ID: options.model.id },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let lastLine = "";
  const forward = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) {
      lastLine = line;
      try {
        const { message, level, ...fields } = JSON.parse(line) as Record<string, unknown>;
        const log = options.logger[(level as "info") ?? "info"] ?? options.logger.info;
        log(String(message), fields);
      } catch {
        options.logger.info(line, { component: "model-server" });
      }
    }
  };
  child.stdout.on("data", forward);
  child.stderr.on("data", forward);
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));

  const url = `http://127.0.0.1:${options.port}`;
  const close = async () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    await exited;
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the model server exited (${child.exitCode}): ${lastLine}`);
    const healthy = await fetch(`${url}/ping`).then((r) => r.ok, () => false);
    if (healthy) return { url, close };
    if (Date.now() > deadline) {
      await close();
      throw new Error("the model server did not become healthy within 120 s");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
