import { spawn } from "node:child_process";
import { setPriority } from "node:os";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Logger, ModelDescriptor } from "@photo-clusters/core";

const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const ENTRYPOINT = fileURLToPath(new URL("../../model-server/src/main.ts", import.meta.url));

/**
 * The model server as its own process, started exactly as the SageMaker container starts it
 * (`main.ts serve`). Decoding and inference are the heaviest work of ingestion; keeping them out of
 * the runtime's process keeps its event loop for S3, SQS, the poller, the writer and the API.
 * It runs at a lower priority (nice 10) so the API stays responsive while it ingests.
 */
export interface ModelServerProcess {
  url: string;
  pid: number;
  /** Resolves with the exit code when the process ends, however it ends. */
  exited: Promise<number | null>;
  /** SIGKILL, for a server that stopped answering; never throws. */
  kill(): void;
  close(): Promise<void>;
}

/**
 * Starts the model server and waits until it answers /ping. Without a `port` it binds a free one
 * itself (PORT=0) and reports it in its "listening" line: no port is probed, then bound.
 */
export async function startModelServerProcess(options: {
  modelPath: string;
  model: ModelDescriptor;
  modelDescriptor?: string;
  logger: Logger;
  port?: number;
}): Promise<ModelServerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", ENTRYPOINT, "serve"], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      HOST: "127.0.0.1",
      PORT: String(options.port ?? 0),
      MODEL_PATH: options.modelPath,
      MODEL_ID: options.model.id,
      MODEL_DESCRIPTOR: options.modelDescriptor ?? "",
      EXIT_WITH_PARENT: "1",
    },
    // stdin stays open and unused: the child exits when it closes, that is when this process ends.
    stdio: ["pipe", "pipe", "pipe"],
    // Its own process group: a Ctrl-C at the terminal reaches the runtime, which stops the child itself.
    detached: true,
  });
  // Below this process in the scheduler: when both want the cores, the API, S3, SQS and the
  // poller go first and inference takes the rest. During eval's ingestion (4 poller batches) with
  // the API polled every 50 ms, its p90 went from 63-66 ms to 32-40 ms, throughput unchanged.
  try {
    setPriority(child.pid!, 10);
  } catch {
    // not permitted here: same priority, still correct
  }
  let lastLine = "";
  let url: string | undefined;
  // Whole lines: a JSON log line can arrive split over two chunks of the pipe.
  const forward = (line: string) => {
    if (!line) return;
    lastLine = line;
    try {
      const { message, level, ...fields } = JSON.parse(line) as Record<string, unknown>;
      if (message === "model server listening" && typeof fields.url === "string") url = fields.url;
      const log = options.logger[(level as "info") ?? "info"] ?? options.logger.info;
      log(String(message), fields);
    } catch {
      options.logger.info(line, { component: "model-server" });
    }
  };
  createInterface({ input: child.stdout }).on("line", forward);
  createInterface({ input: child.stderr }).on("line", forward);
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));

  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    // Killed by a signal, a process has no exit code, only a signal code.
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the model server exited (${child.exitCode ?? child.signalCode}): ${lastLine}`);
    const healthy =
      url !== undefined &&
      (await fetch(`${url}/ping`).then(
        (r) => r.ok,
        () => false,
      ));
    if (healthy) return { url: url!, pid: child.pid!, exited, close, kill: () => void child.kill("SIGKILL") };
    if (Date.now() > deadline) {
      await close();
      throw new Error("the model server did not become healthy within 120 s");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
