/**
 * The model server: the SageMaker container contract (`GET /ping`, `POST /invocations`,
 * port 8080) and the runtime route `POST /endpoints/{name}/invocations` that the AWS SDK's
 * InvokeEndpoint posts to when pointed at this server. The body is the raw image; the reply
 * is `{ model, dimension, embedding }`. Errors are `{ error: { code, message } }` with an
 * `x-amzn-errortype` header, so the SDK raises ValidationError, ServiceUnavailable, ModelError
 * or InternalFailure. 5xx messages are generic; details go to the log.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { jsonLogger, type Logger, type ModelDescriptor } from "@photo-clusters/core";
import { createEmbedder, type Embedder } from "./embedder.ts";
import { ModelNotReadyError, ModelServerError } from "./errors.ts";
import { readBody } from "./http-body.ts";
import { resolveModelPath } from "./model-file.ts";
import { DEFAULT_LIMITS, type ImageLimits } from "./preprocess.ts";

export interface ModelServerOptions {
  model: ModelDescriptor;
  /** Default 127.0.0.1; the container entrypoint passes 0.0.0.0. */
  host?: string;
  /** Default 8080 (SageMaker contract); 0 picks a free port. */
  port?: number;
  /** ONNX file; when omitted it is resolved by `resolveModelPath` (shared copy, then download). */
  modelPath?: string;
  cacheDir?: string;
  threads?: number;
  limits?: Partial<ImageLimits>;
  /** An embedder to serve instead of loading one (shared with other code, or controlled by tests). */
  embedder?: Embedder | Promise<Embedder>;
  /**
   * true (default): resolve once the model is loaded, or reject (server closed) if it cannot be.
   * false: resolve as soon as the port listens; `/ping` answers 503 until `ready` resolves.
   */
  waitForModel?: boolean;
  logger?: Logger;
}

export interface ModelServer {
  url: string;
  /** Resolves once the model is loaded (`/ping` answers 200); rejects if loading failed. */
  ready: Promise<void>;
  close(): Promise<void>;
}

const INVOCATIONS = /^\/(?:invocations|endpoints\/[^/]+\/invocations)$/;

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, error: unknown, logger: Logger, context: Record<string, unknown>): void {
  const known = error instanceof ModelServerError ? error : undefined;
  const status = known?.status ?? 500;
  const errorType = known?.errorType ?? "InternalFailure";
  const exposed = known?.expose === true;
  const code = exposed ? known.code : status === 503 ? "service_unavailable" : "internal_error";
  const message = exposed ? known.message : status === 503 ? "the model server is not ready; retry later" : "the model server failed to embed this image";
  const fields = { ...context, status, code: known?.code ?? "unexpected", error, cause: (error as Error)?.cause };
  if (status >= 500) logger.error("invocation failed", fields);
  else logger.warn("invocation refused", fields);
  send(res, status, { error: { code, message }, message }, { "x-amzn-errortype": errorType });
}

export async function startModelServer(options: ModelServerOptions): Promise<ModelServer> {
  const logger = options.logger ?? jsonLogger({ component: "model-server" });
  const model = options.model;
  const limits: ImageLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const ownsEmbedder = options.embedder === undefined;
  let embedder: Embedder | undefined;

  const loading: Promise<Embedder> = options.embedder
    ? Promise.resolve(options.embedder)
    : resolveModelPath(model, { modelPath: options.modelPath, cacheDir: options.cacheDir }).then((modelPath) =>
        createEmbedder({ modelPath, model, threads: options.threads, limits, inference: "worker" }),
      );
  const ready = loading.then(
    (loaded) => {
      if (loaded.model.id !== model.id) throw new Error(`embedder serves ${loaded.model.id}, server was asked for ${model.id}`);
      embedder = loaded;
      logger.info("model loaded", { model: model.id, dimension: model.dimension });
    },
    (error: unknown) => {
      logger.error("model failed to load", { model: model.id, error });
      throw error;
    },
  );
  ready.catch(() => {}); // observed by callers through `ready`; /ping keeps answering 503

  async function invoke(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const current = embedder;
    if (!current) throw new ModelNotReadyError();
    const body = await readBody(req, current.limits.maxBytes);
    const embedding = await current.embed(body, req.headers["content-type"]);
    send(res, 200, { model: current.model.id, dimension: current.model.dimension, embedding: Array.from(embedding) });
  }

  const server = createServer((req, res) => {
    const started = performance.now();
    const path = (req.url ?? "/").split("?")[0]!;
    const context = { method: req.method, path };
    const handle = async () => {
      if (path === "/ping") {
        if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, { error: { code: "method_not_allowed", message: "use GET /ping" } });
        return embedder ? send(res, 200, { status: "ok", model: model.id }) : send(res, 503, { status: "loading", model: model.id });
      }
      if (INVOCATIONS.test(path)) {
        if (req.method !== "POST") return send(res, 405, { error: { code: "method_not_allowed", message: `use POST ${path}` } });
        await invoke(req, res);
        logger.info("invocation", { ...context, status: 200, ms: Math.round(performance.now() - started) });
        return;
      }
      send(res, 404, { error: { code: "not_found", message: `no route for ${req.method} ${path}` } });
    };
    handle().catch((error: unknown) => {
      if (res.headersSent) return res.destroy();
      sendError(res, error, logger, context);
      if (!req.complete) {
        // Discard (never buffer) the rest of an oversized upload so the client can finish
        // writing and read the 413, but do not let a client stream forever.
        req.resume();
        setTimeout(() => {
          if (!req.complete) req.socket.destroy();
        }, 5_000).unref();
      }
    });
  });
  server.keepAliveTimeout = 65_000; // longer than SageMaker's 60 s idle connection

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 8080, options.host ?? "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    // e.g. EADDRINUSE: release the model this call was loading.
    if (ownsEmbedder)
      void loading.then(
        (e) => e.close(),
        () => {},
      );
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

  const handle: ModelServer = {
    url: `http://${host}:${address.port}`,
    ready,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (ownsEmbedder)
        await loading.then(
          (e) => e.close(),
          () => {},
        );
    },
  };
  if (options.waitForModel ?? true) {
    try {
      await ready;
    } catch (error) {
      await handle.close();
      throw error;
    }
  }
  return handle;
}
