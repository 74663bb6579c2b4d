/**
 * The local runtime as the integration tests start it: free ports, a fresh data directory (removed
 * by `stop`), the shared MobileNetV2, a 1 s queue delay, a 5 s visibility timeout, 3 receives, and
 * its log lines dropped unless `onLog` takes them. Any option may be given to change it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jsonLogger, mobilenetV2Int8 } from "@photo-clusters/core";
import { type LocalRuntime, type LocalRuntimeOptions, startLocalRuntime } from "../src/runtime.ts";

export const SHARED = join(import.meta.dirname, "../../../../shared");
export const PHOTOS = join(SHARED, "data/dev-photos");

export type TestRuntime = LocalRuntime & { dataDir: string };

export async function startTestRuntime(
  options: Partial<Omit<LocalRuntimeOptions, "logger">> & { onLog?: (entry: Record<string, unknown>) => void } = {},
): Promise<TestRuntime> {
  const { onLog, ...given } = options;
  const dataDir = given.dataDir ?? (await mkdtemp(join(tmpdir(), "runtime-test-")));
  const runtime = await startLocalRuntime({
    port: 0,
    emulatorPort: 0,
    model: mobilenetV2Int8,
    modelPath: join(SHARED, "models/mobilenetv2-12-int8.onnx"),
    queueDelaySeconds: 1,
    visibilityTimeoutSeconds: 5,
    maxReceiveCount: 3,
    ...given,
    dataDir,
    logger: jsonLogger({}, { write: (line) => onLog?.(JSON.parse(line)) }),
  });
  const stop = runtime.stop;
  // On the runtime itself: its model server's URL and pid are getters that follow a restart.
  return Object.assign(runtime, {
    dataDir,
    stop: async () => {
      await stop();
      if (!given.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  });
}
