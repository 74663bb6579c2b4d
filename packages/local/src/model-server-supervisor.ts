/**
 * Locally nothing replaces a dead model server the way SageMaker replaces a container, so the
 * runtime supervises its child: a model server that exits, or stops answering /ping three times in
 * a row, is restarted (on a port it binds itself, so `url` may change), after a backoff that
 * doubles from 0.5 s to 10 s, with a log line each time. More than `maxRestarts` restarts within
 * `windowMs` means something is wrong that a restart will not fix: the supervisor gives up and says
 * so through `onGiveUp`. While the server is down, `whenHealthy` holds back whoever waits on it (the
 * queue poller), so no new message is received until it is back.
 */
import type { Logger, ModelDescriptor } from "@photo-clusters/core";
import { startModelServerProcess, type ModelServerProcess } from "./model-server-process.ts";

export interface SupervisedModelServer {
  /** The current server's URL: it changes when the server is restarted. */
  url(): string;
  pid(): number;
  /** Resolves once the server is up (at once when it is), or when the supervisor is closed. */
  whenHealthy(): Promise<void>;
  close(): Promise<void>;
}

export interface SupervisorOptions {
  modelPath: string;
  model: ModelDescriptor;
  /** The descriptor file `model` came from, if any: the model server loads the same one. */
  modelDescriptor?: string;
  logger: Logger;
  onGiveUp(error: Error): void;
  maxRestarts?: number;
  windowMs?: number;
  pingIntervalMs?: number;
}

export async function superviseModelServer(options: SupervisorOptions): Promise<SupervisedModelServer> {
  const { logger, maxRestarts = 5, windowMs = 60_000, pingIntervalMs = 1_000 } = options;
  let current: ModelServerProcess = await startModelServerProcess(options);
  let closed = false;
  let healthy = true;
  let misses = 0;
  let starting: Promise<ModelServerProcess> | null = null;
  let waiters: Array<() => void> = [];
  const restarts: number[] = [];

  const release = () => {
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
        starting = startModelServerProcess(options);
        const next = await starting;
        if (closed) return void (await next.close());
        current = next;
        logger.info("model server restarted", { url: next.url, pid: next.pid });
        watch(next);
        healthy = true;
        misses = 0;
        release();
        return;
      } catch (error) {
        reason = (error as Error).message;
      } finally {
        starting = null;
      }
    }
  }

  function watch(child: ModelServerProcess): void {
    void child.exited.then((code) => {
      if (!closed && child === current) void restart(`exited with code ${code}`);
    });
  }
  watch(current);

  // One ping at a time: a server that is up but does not answer three in a row is killed, and its
  // exit restarts it.
  let timer: NodeJS.Timeout;
  const ping = async () => {
    const child = current;
    if (!closed && healthy) {
      const ok = await fetch(`${child.url}/ping`, { signal: AbortSignal.timeout(pingIntervalMs) }).then(
        (r) => r.ok,
        () => false,
      );
      if (!closed && healthy && child === current) {
        misses = ok ? 0 : misses + 1;
        if (misses >= 3) {
          misses = 0;
          logger.warn("model server stopped answering /ping; killing it", { pid: child.pid });
          child.kill();
        }
      }
    }
    if (!closed) timer = setTimeout(ping, pingIntervalMs).unref();
  };
  timer = setTimeout(ping, pingIntervalMs).unref();

  return {
    url: () => current.url,
    pid: () => current.pid,
    whenHealthy: () => (healthy || closed ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    async close() {
      closed = true;
      clearTimeout(timer);
      release(); // waiters see that everything is stopping
      await starting?.then(
        (next) => next.close(),
        () => {},
      );
      await current.close();
    },
  };
}
