/**
 * The API Lambda: deps built once per container, then `handle(app)`. API Gateway's JWT
 * authorizer has verified the token before we run; the app reads its claims from the event and
 * only verifies a token itself (against the issuer's JWKS) when a request arrives without them.
 */
import { emfMetrics, jsonLogger, openStore, servingView } from "@photo-clusters/core";
import { handle } from "hono/aws-lambda";
import { createApiApp } from "./api/app.ts";
import { createJwtVerifier } from "./api/auth.ts";
import { cachedReader } from "./api/view-cache.ts";
import { createPhotoDeleter } from "./api/photo-deleter.ts";
import { createUploadSigner } from "./api/uploads.ts";
import { apiConfig, apiExactBudget, MAX_OBJECT_BYTES, uploadCredentials } from "./config.ts";
import { traced, traceFields, withInvocation } from "./tracing.ts";

const cfg = apiConfig();
const logger = jsonLogger({ service: "api" }, { context: traceFields });
const metrics = emfMetrics({ namespace: cfg.metricsNamespace, service: "api" });
// Cached views may take a quarter of the function's memory, shared by the models it serves.
const maxBytes = (cfg.memoryMb * 2 ** 20) / 4 / (cfg.previousModel ? 2 : 1);
// One store per model served: read through the cache, and scanned by `similar` beyond the graph.
const stores = new Map(
  [cfg.model, cfg.previousModel].flatMap((m) =>
    m ? [[m.id, openStore({ root: cfg.dataDir, model: m, logger: logger.child({ component: "store" }) })] as const] : [],
  ),
);
const failures = stores.get(cfg.model.id)!;
const current = cachedReader(failures, { maxBytes }, metrics);
const previous = cfg.previousModel && cachedReader(stores.get(cfg.previousModel.id)!, { maxBytes }, metrics);

export const app = createApiApp({
  // The store's reads are X-Ray subsegments of the request.
  readUser: (userId, need) => traced("store.read", () => servingView(userId, current, previous, need)),
  readFailures: (userId) => traced("store.failures", () => failures.failures(userId)),
  nearest: (userId, imageId, limit, view) => traced("store.nearest", async () => stores.get(view.model)?.nearest(userId, imageId, limit, view)),
  verifyToken: createJwtVerifier(cfg.auth),
  model: cfg.model,
  exactBudget: apiExactBudget(cfg),
  logger,
  metrics,
  // Signed with the function's own role, which may put objects under users/ only.
  uploads: createUploadSigner({ ...cfg.uploads, maxBytes: MAX_OBJECT_BYTES, credentials: async () => uploadCredentials() }),
  // Deleted with the same role, which may delete objects under users/ only.
  photos: createPhotoDeleter({ ...cfg.uploads, credentials: async () => uploadCredentials() }),
});

export const handler = withInvocation(handle(app));
