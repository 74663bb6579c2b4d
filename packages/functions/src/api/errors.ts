/**
 * Errors of the HTTP edge. An `ApiError` is safe to show: its status and message go to the
 * client as they are (`expose`), as is core's InvalidParameterError (a 400), which the API throws for
 * a parameter outside its form or range. Anything else becomes a generic 500 and is only logged.
 */
export class ApiError extends Error {
  readonly status: 401 | 403 | 404;
  readonly code: string;
  readonly expose = true;
  constructor(status: 401 | 403 | 404, code: string, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.code = code;
  }
}

/** No token, or a token that does not verify (signature, issuer, audience, expiry). */
export class UnauthorizedError extends ApiError {
  constructor(message = "a valid bearer token is required", cause?: unknown) {
    super(401, "unauthorized", message, { cause });
  }
}

/** A valid token for someone other than the user in the path. */
export class ForbiddenError extends ApiError {
  constructor(message = "the token does not grant access to this user") {
    super(403, "forbidden", message);
  }
}

export class NotFoundError extends ApiError {
  constructor(message = "not found") {
    super(404, "not_found", message);
  }
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

export const INTERNAL_ERROR: ErrorBody = errorBody("internal", "internal error");
