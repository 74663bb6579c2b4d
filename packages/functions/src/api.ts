/**
 * The API Lambda: deps built once per container, then `handle(app)`. API Gateway's JWT
 * authorizer has verified the token before we run; the app reads its claims from the event and
 * only verifies a token itself (against the issuer's JWKS) when a request arrives without them.
 */
import { jsonLogger } from "@photo-clusters/core/logger";
import { servingSnapshot } from "@photo-clusters/core/model-switch";
import { openStore } from "@photo-clusters/core/store/index";
import { handle } from "hono/aws-lambda";
import { createApiApp } from "./api/app.ts";
import { createJwtVerifier } from "./api/auth.ts";
import { apiConfig } from "./config.ts";

const cfg = apiConfig();
const logger = jsonLogger({ service: "api" });
const open = (model: typeof cfg.model) => openStore({ root: cfg.dataDir, model, logger: logger.child({ component: "store" }) });
const store = open(cfg.model);
const previous = cfg.previousModel && open(cfg.previousModel);

export const app = createApiApp({
  readUser: (userId) => servingSnapshot(userId, store, previous),
  verifyToken: createJwtVerifier(cfg.auth),
  model: cfg.model,
  logger,
});

export const handler = handle(app);
