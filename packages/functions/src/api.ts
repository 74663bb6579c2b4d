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
const store = (model: typeof cfg.model) => openStore({ root: cfg.dataDir, model, logger: logger.child({ component: "store" }) });
const reader = (model: typeof cfg.model) => cachedReader(store(model), { maxBytes }, metrics);
const current = reader(cfg.model);
const failures = store(cfg.model);
const previous = cfg.previousModel && reader(cfg.previousModel);
// `similar` beyond the graph scans the log of the model the view was served from.
const scanners = new Map([cfg.model, cfg.previousModel].flatMap((m) => (m ? [[m.id, store(m)] as const] : [])));

export const app = createApiApp({
  // The store's reads are X-Ray subsegments of the request.
  readUser: (userId, need) => traced("store.read", () => servingView(userId, current, previous, need)),
  readFailures: (userId) => traced("store.failures", () => failures.failures(userId)),
  nearest: (userId, imageId, limit, view) => traced("store.nearest", async () => scanners.get(view.model)?.nearest(userId, imageId, limit, view)),
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
