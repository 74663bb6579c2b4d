/**
 * Locally nothing replaces a dead model server the way SageMaker replaces a container, so the
 * runtime supervises its child: a model server that exits, or stops answering /ping three times in
 * a row, is restarted on the same port, after a backoff that doubles from 0.5 s to 10 s, with a log
 * line each time. More than `maxRestarts` restarts within `windowMs` means something is wrong that a
 * restart will not fix: the supervisor gives up and says so through `onGiveUp`.
 * While the server is down, `whenHealthy` holds back whoever waits on it (the queue poller), so no
 * message is received, and none uses up a delivery, until it is back.
 */
import type { Logger } from "@photo-clusters/core/logger";
import type { ModelDescriptor } from "@photo-clusters/core/models";
import { startModelServerProcess, type ModelServerProcess } from "./model-server-process.ts";

export interface SupervisedModelServer {
  /** Stable across restarts: the port first bound is bound again. */
  url: string;
  pid(): number;
  whenHealthy(): Promise<void>;
  close(): Promise<void>;
}

export interface SupervisorOptions {
  modelPath: string;
  model: ModelDescriptor;
  logger: Logger;
  onGiveUp(error: Error): void;
  maxRestarts?: number;
  windowMs?: number;
  pingIntervalMs?: number;
}

export async function superviseModelServer(options: SupervisorOptions): Promise<SupervisedModelServer> {
  const { logger, maxRestarts = 5, windowMs = 60_000, pingIntervalMs = 1_000 } = options;
  let current: ModelServerProcess = await startModelServerProcess(options);
  const url = current.url;
  const port = Number(new URL(url).port);
  let closed = false;
  let healthy = true;
  let waiters: Array<() => void> = [];
  const restarts: number[] = [];

  const up = () => {
    healthy = true;
    for (const resolve of waiters) resolve();
    waiters = [];
  };

  async function restart(reason: string): Promise<void> {
    healthy = false;
    for (;;) {
      if (closed) return;
      const now = Date.now();
      while (restarts.length > 0 && restarts[0] < now - windowMs) restarts.shift();
      if (restarts.length >= maxRestarts) {
        const error = new Error(`the model server failed ${restarts.length + 1} times within ${windowMs / 1000} s (last: ${reason}); giving up`);
        logger.error(error.message);
        options.onGiveUp(error);
        return;
      }
      restarts.push(now);
      const delay = Math.min(500 * 2 ** (restarts.length - 1), 10_000);
      logger.warn("model server down; restarting", { reason, attempt: restarts.length, maxRestarts, inMs: delay });
      await new Promise((r) => setTimeout(r, delay));
      if (closed) return;
      try {
        current = await startModelServerProcess({ ...options, port });
        logger.info("model server restarted", { url, pid: current.pid });
        watch(current);
        up();
        return;
      } catch (error) {
        reason = (error as Error).message;
      }
    }
  }

  function watch(child: ModelServerProcess): void {
    void child.exited.then((code) => {
      if (!closed && child === current) void restart(`exited with code ${code}`);
    });
  }
  watch(current);

  // A server that is alive but does not answer is killed; its exit then restarts it.
  let misses = 0;
  const pinger = setInterval(async () => {
    if (closed || !healthy) return;
    const child = current;
    const ok = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(pingIntervalMs * 2) }).then((r) => r.ok, () => false);
    misses = ok ? 0 : misses + 1;
    if (misses >= 3 && child === current) {
      misses = 0;
      logger.warn("model server stopped answering /ping; killing it", { pid: child.pid });
      process.kill(child.pid, "SIGKILL");
    }
  }, pingIntervalMs);
  pinger.unref();

  return {
    url,
    pid: () => current.pid,
    whenHealthy: () => (healthy ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    async close() {
      closed = true;
      clearInterval(pinger);
      up(); // release waiters so their loops can see they are stopping
      await current.close();
    },
  };
}
