/**
 * Who is calling. In AWS, API Gateway's JWT authorizer has already verified the token and hands
 * its claims over in the event, so the handler reads them from there. Anywhere else (locally,
 * in tests, or a route deployed without the authorizer) the app verifies the bearer token itself.
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { UnauthorizedError } from "./errors.ts";

export interface Identity {
  sub: string;
}

export type VerifyToken = (token: string) => Promise<Identity>;

export interface JwtVerifierOptions {
  issuer: string;
  /** One audience, or several of which the token must name one. */
  audience: string | string[];
  /** Asymmetric keys (RS256/ES256) from an identity provider's JWKS. */
  jwksUrl?: string;
  /** A shared HS256 secret (the local dev key). */
  secret?: Uint8Array;
  /** Seconds of clock skew tolerated on exp/nbf. */
  clockToleranceSeconds?: number;
}

/** Failures that say the token is bad, as opposed to the key source being unreachable (a 5xx). */
const TOKEN_ERRORS = [
  errors.JWTExpired,
  errors.JWTClaimValidationFailed,
  errors.JWTInvalid,
  errors.JWSInvalid,
  errors.JWSSignatureVerificationFailed,
  errors.JOSEAlgNotAllowed,
  errors.JOSENotSupported,
  errors.JWKSNoMatchingKey,
  errors.JWKSMultipleMatchingKeys,
];

export function createJwtVerifier(options: JwtVerifierOptions): VerifyToken {
  const { issuer, audience, jwksUrl, secret } = options;
  if (!issuer || audience.length === 0) throw new Error("createJwtVerifier needs an issuer and an audience");
  if ((jwksUrl === undefined) === (secret === undefined)) throw new Error("createJwtVerifier needs exactly one of jwksUrl or secret");
  const key: Uint8Array | JWTVerifyGetKey = secret ?? createRemoteJWKSet(new URL(jwksUrl!));
  const algorithms = secret ? ["HS256"] : ["RS256", "ES256"];
  const clockTolerance = options.clockToleranceSeconds ?? 5;

  return async (token) => {
    try {
      // Both overloads of jwtVerify accept either key kind; the union needs one call per branch.
      const { payload } =
        key instanceof Uint8Array
          ? await jwtVerify(token, key, { issuer, audience, algorithms, clockTolerance, requiredClaims: ["exp", "sub"] })
          : await jwtVerify(token, key, { issuer, audience, algorithms, clockTolerance, requiredClaims: ["exp", "sub"] });
      if (typeof payload.sub !== "string" || payload.sub === "") throw new UnauthorizedError("the token has no subject");
      return { sub: payload.sub };
    } catch (error) {
      if (error instanceof UnauthorizedError) throw error;
      if (TOKEN_ERRORS.some((type) => error instanceof type)) {
        throw new UnauthorizedError(error instanceof errors.JWTExpired ? "the token has expired" : "the token is not valid", error);
      }
      throw error;
    }
  };
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer +([A-Za-z0-9._~+/=-]+)$/i.exec(header.trim());
  return match?.[1];
}

/**
 * The subject API Gateway's JWT authorizer verified, when this request came through one.
 * `env` is Hono's binding object; under `hono/aws-lambda` it carries the raw `event`.
 */
export function gatewaySubject(env: unknown): string | undefined {
  const event = (env as { event?: { requestContext?: { authorizer?: { jwt?: { claims?: Record<string, unknown> } } } } } | undefined)?.event;
  const sub = event?.requestContext?.authorizer?.jwt?.claims?.sub;
  return typeof sub === "string" && sub !== "" ? sub : undefined;
}
