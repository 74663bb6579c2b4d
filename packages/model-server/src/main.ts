/**
 * Container entrypoint. SageMaker runs `docker run <image> serve`; `serve` (or no argument)
 * starts the server. Exits non-zero with a clear message when the environment is wrong, the
 * port is taken, or the model cannot be loaded.
 */
import { loadConfig } from "./config.ts";
import { jsonLogger } from "@photo-clusters/core";
import { startModelServer } from "./server.ts";

const logger = jsonLogger({ component: "model-server" });

function fail(message: string, code = 1): never {
  logger.error(message);
  process.exit(code);
}

const [command, ...rest] = process.argv.slice(2);
if ((command !== undefined && command !== "serve") || rest.length > 0) {
  fail(`usage: main [serve]; got "${process.argv.slice(2).join(" ")}"`, 2);
}

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(process.env);
} catch (error) {
  fail((error as Error).message);
}

// Listen before the model is loaded: SageMaker polls /ping, which answers 503 until then.
const server = await startModelServer({ ...config, logger, waitForModel: false }).catch((error: NodeJS.ErrnoException) =>
  fail(error.code === "EADDRINUSE" ? `port ${config.port} on ${config.host} is already in use` : `cannot start the model server: ${error.message}`),
);
logger.info("model server listening", { url: server.url, model: config.model.id });
// Run by the local runtime, it exits with its parent: the parent holds our stdin open, and the pipe
// closes however the parent ends (a signal during start-up, SIGKILL), so no server is left behind.
if (config.exitWithParent) {
  process.stdin.on("end", () => {
    logger.info("parent process gone; exiting");
    process.exit(0);
  });
  process.stdin.resume();
}
server.ready.catch((error: Error) => fail(`cannot load the model: ${error.message}`));

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    logger.info("shutting down", { signal });
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
