/**
 * The clusters API as a Hono app: the same object answers `app.request()` in tests, the local
 * runtime's server and, wrapped by `handle(app)`, API Gateway in AWS.
 * Middleware is scoped to `/users/*`, so the app can be mounted next to the local page.
 */
import { randomUUID } from "node:crypto";
import { Hono, type Context } from "hono";
import {
  type FailureRecord,
  InvalidParameterError,
  jsonLogger,
  type Logger,
  type Metrics,
  type ModelDescriptor,
  MODELS,
  type Nearest,
} from "@photo-clusters/core";
import { bearerToken, gatewaySubject, type VerifyToken } from "./auth.ts";
import { clustersView, type ExactBudget, nearestView, needsVectors, similarView, type UserView } from "./clusters-view.ts";
import { ApiError, errorBody, ForbiddenError, INTERNAL_ERROR, NotFoundError, UnauthorizedError } from "./errors.ts";
import { parseClusterLimit, parseCursor, parseId, parseImageId, parseLimit, parseMinSize, parseThreshold } from "./params.ts";
import type { PhotoDeleter } from "./photo-deleter.ts";
import { parseUploadRequest, type UploadSigner } from "./uploads.ts";

export type ApiLogger = Pick<Logger, "info" | "error">;

export interface ApiDeps {
  /**
   * The user's current view; a user without photos yields one with no images. With "vectors" it must
   * hold the vectors (the exact path, and `similar` beyond what the graph holds).
   */
  readUser(userId: string, need?: "vectors"): Promise<UserView>;
  /**
   * `similar` beyond what the graph holds, in bounded memory: the store's `nearest` for the view's
   * model, given the view the request holds. Without it, the view is read again with its vectors.
   */
  nearest?(userId: string, imageId: string, limit: number, view: UserView): Promise<{ view: UserView; neighbours: Nearest[] } | undefined>;
  verifyToken: VerifyToken;
  model: ModelDescriptor;
  logger?: ApiLogger;
  /** What one request below the graph's floor may spend (default DEFAULT_EXACT_BUDGET); its limits follow. */
  exactBudget?: ExactBudget;
  /** JSON bytes a clusters page may hold (default MAX_PAGE_BYTES, the most Lambda allows). */
  maxPageBytes?: number;
  /** The user's photos that finally failed, newest first (the store's `failures`); none when absent. */
  readFailures?(userId: string): Promise<FailureRecord[]>;
  /** Deletes a photo's S3 object for `DELETE /users/{userId}/images/{imageId}`; without it the route answers 404. */
  photos?: PhotoDeleter;
  /** Signs presigned POSTs for `POST /users/{userId}/uploads`; without it the route answers 404. */
  uploads?: UploadSigner;
  /** ApiLatency by route is recorded here, and everything recorded is flushed once a request ends. */
  metrics?: Metrics;
}

const MAX_UPLOAD_BODY = 8192;

type ApiEnv = { Variables: { requestId: string } };

const RESPONSE_HEADERS: Record<string, string> = {
  "Cache-Control": "no-store",
  "X-Content-Type-Options": "nosniff",
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
  "Referrer-Policy": "no-referrer",
};

/** API Gateway's request id when there is one, so our logs join its access logs. */
function requestIdOf(env: unknown): string {
  const e = env as { requestContext?: { requestId?: unknown }; lambdaContext?: { awsRequestId?: unknown } } | undefined;
  const id = e?.requestContext?.requestId ?? e?.lambdaContext?.awsRequestId;
  return typeof id === "string" && id !== "" ? id : randomUUID();
}

export function createApiApp(deps: ApiDeps): Hono<ApiEnv> {
  const { model } = deps;
  const logger = deps.logger ?? jsonLogger({ service: "api" });
  const app = new Hono<ApiEnv>();

  app.use("/users/*", async (c, next) => {
    const started = performance.now();
    c.set("requestId", requestIdOf(c.env));
    await next();
    for (const [name, value] of Object.entries(RESPONSE_HEADERS)) c.header(name, value);
    c.header("X-Request-Id", c.get("requestId"));
    const ms = performance.now() - started;
    logger.info("request", { requestId: c.get("requestId"), method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(ms) });
    const route = routeOf(c.req.path, c.req.method);
    if (route) deps.metrics?.time("ApiLatency", ms, { route });
    deps.metrics?.flush();
  });

  /** The path's userId, once the caller has proved to be that user. */
  async function authorize(c: Context<ApiEnv>): Promise<string> {
    let sub = gatewaySubject(c.env);
    if (sub === undefined) {
      const token = bearerToken(c.req.header("Authorization"));
      if (token === undefined) throw new UnauthorizedError();
      sub = (await deps.verifyToken(token)).sub;
    }
    const userId = parseId("userId", c.req.param("userId"));
    if (sub !== userId) throw new ForbiddenError();
    return userId;
  }

  /** During a model switch the view may still be the previous model's: use its calibration. */
  const modelOf = (view: UserView): ModelDescriptor => (view.model === model.id ? model : (MODELS[view.model] ?? model));

  const query = (c: Context<ApiEnv>) => (name: string) => c.req.queries(name);

  app.get("/users/:userId/clusters", async (c) => {
    const userId = await authorize(c);
    const minSize = parseMinSize(query(c));
    const limit = parseClusterLimit(query(c));
    const cursor = parseCursor(query(c));
    let view = await deps.readUser(userId);
    const served = modelOf(view);
    const threshold = parseThreshold(query(c), served.defaults.threshold);
    const { exactBudget } = deps;
    if (needsVectors(view, threshold, served, exactBudget)) view = await deps.readUser(userId, "vectors");
    return c.json(clustersView(view, { threshold, minSize, limit, cursor, maxBytes: deps.maxPageBytes, exactBudget }, modelOf(view)));
  });

  // The id may hold '/': percent-encoded as %2F locally, already decoded by API Gateway in AWS.
  app.get("/users/:userId/images/:imageId{.+}/similar", async (c) => {
    const userId = await authorize(c);
    const imageId = parseImageId(c.req.param("imageId"));
    const limit = parseLimit(query(c));
    const view = await deps.readUser(userId);
    let answer = similarView(view, imageId, limit, modelOf(view));
    // Beyond what the graph holds: the store's bounded scan, or (without one) the vectors read whole.
    if (answer === null && deps.nearest) {
      const found = await deps.nearest(userId, imageId, limit, view);
      answer = found && nearestView(found.view, imageId, found.neighbours, modelOf(found.view));
    }
    if (answer === null) {
      const full = await deps.readUser(userId, "vectors");
      answer = similarView(full, imageId, limit, modelOf(full));
    }
    if (!answer) throw new NotFoundError("no such image for this user");
    return c.json(answer);
  });

  // The photo's object goes; the pipeline then removes it from the store, as for any delete: 202.
  app.delete("/users/:userId/images/:imageId{.+}", async (c) => {
    const userId = await authorize(c);
    const imageId = parseImageId(c.req.param("imageId"));
    if (!deps.photos) throw new NotFoundError("deleting photos is not configured here");
    const view = await deps.readUser(userId);
    const row = view.rowOf(imageId);
    if (row < 0) throw new NotFoundError("no such image for this user");
    const key = view.key(row);
    await deps.photos.delete(key);
    return c.json({ imageId, key, status: "deleting" }, 202);
  });

  app.get("/users/:userId/status", async (c) => {
    const userId = await authorize(c);
    const [view, failed] = await Promise.all([deps.readUser(userId), deps.readFailures?.(userId) ?? []]);
    return c.json({ userId, stored: view.imageCount, failed: failed.map(({ key, imageId, code, message, at }) => ({ key, imageId, code, message, at })) });
  });

  app.post("/users/:userId/uploads", async (c) => {
    const userId = await authorize(c);
    if (!deps.uploads) throw new NotFoundError("uploads are not configured here");
    if (!/^application\/json\b/i.test(c.req.header("Content-Type") ?? ""))
      throw new InvalidParameterError("the body must be JSON (Content-Type: application/json)");
    // Bytes as received (API Gateway has already capped them at its payload limit), then decoded.
    const raw = await c.req.arrayBuffer();
    if (raw.byteLength > MAX_UPLOAD_BODY) throw new InvalidParameterError(`the body must be at most ${MAX_UPLOAD_BODY} bytes`);
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
    } catch {
      throw new InvalidParameterError("the body is not valid JSON");
    }
    const request = parseUploadRequest(userId, body, deps.uploads.maxBytes);
    const upload = await deps.uploads.sign(request);
    return c.json({ key: request.key, imageId: request.imageId, upload });
  });

  app.notFound((c) => c.json(errorBody("not_found", "no such route"), 404, { ...RESPONSE_HEADERS }));

  app.onError((error, c) => {
    if (error instanceof ApiError || error instanceof InvalidParameterError) {
      const status = error instanceof ApiError ? error.status : 400;
      const code = error instanceof ApiError ? error.code : "invalid_parameter";
      if (status === 401) {
        const presented = c.req.header("Authorization") !== undefined;
        c.header("WWW-Authenticate", `Bearer realm="photo-clusters"${presented ? ', error="invalid_token"' : ""}`);
      }
      return c.json(errorBody(code, error.message), status);
    }
    logger.error("unhandled error", {
      requestId: c.get("requestId"),
      method: c.req.method,
      path: c.req.path,
      error: error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : String(error),
    });
    return c.json(INTERNAL_ERROR, 500);
  });

  return app;
}

/** The metrics' route dimension, named by the route's last segment ("delete" for a photo's deletion); none for a path no route has. */
function routeOf(path: string, method: string): string | undefined {
  if (method === "DELETE") return /^\/users\/[^/]+\/images\/.+$/.test(path) ? "delete" : undefined;
  return /^\/users\/[^/]+\/(?:(clusters|status|uploads)|images\/.+\/(similar))$/.exec(path)?.slice(1).find(Boolean);
}
