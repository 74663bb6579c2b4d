/**
 * `pnpm start`: the whole pipeline on 127.0.0.1 — emulated S3 and SQS, the notification bridge,
 * the poller, the model server, the writer on DATA_DIR and the API with its page.
 */
import { resolveModelPath } from "@photo-clusters/model-server";
import { ConfigError } from "@photo-clusters/core";
import { localConfig, quietSdkNodeWarning } from "./config.ts";
import { LOCAL_BUCKET, LOCAL_DLQ, LOCAL_QUEUE } from "./emulator.ts";
import { PortInUseError, startLocalRuntime } from "./runtime.ts";

// From the first moment: a signal during start-up (the model can take seconds to load) ends this
// process at once, and the model-server child with it (it exits when its stdin pipe closes).
let runtime: Awaited<ReturnType<typeof startLocalRuntime>> | undefined;
let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`\n${signal}: stopping…\n`);
  await runtime?.stop();
  process.exit(0);
};
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

async function main(): Promise<void> {
  const config = localConfig();
  quietSdkNodeWarning();
  const modelPath = await resolveModelPath(config.model, { modelPath: config.modelPath });
  runtime = await startLocalRuntime({
    ...config,
    modelPath,
    onFatal: (error) => {
      process.stderr.write(`photo-clusters: ${error.message}\n`);
      process.exit(1);
    },
  });
  if (stopping) return void (await runtime.stop());
  const { apiUrl, emulator } = runtime;
  process.stderr.write(
    `${[
      "",
      "photo-clusters is running on this machine",
      `  page        ${apiUrl}/`,
      `  API         ${apiUrl}/users/<userId>/clusters   (token: pnpm photo-clusters token --user <userId>)`,
      `  S3 and SQS  ${emulator.endpoint}   bucket "${LOCAL_BUCKET}", queue "${LOCAL_QUEUE}", dead letters "${LOCAL_DLQ}"`,
      `  model       ${config.model.id} (${modelPath})`,
      `  data        ${config.dataDir}`,
      "",
      "Upload photos:  pnpm photo-clusters upload --user alice ../shared/data/dev-photos",
      "Stop:           Ctrl-C",
      "",
    ].join("\n")}\n`,
  );
}

main().catch((error: Error) => {
  const known = error instanceof ConfigError || error instanceof PortInUseError || error.name === "ModelFileError";
  process.stderr.write(`photo-clusters: ${known ? error.message : (error.stack ?? error.message)}\n`);
  process.exit(1);
});
