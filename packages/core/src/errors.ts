/**
 * Errors of the domain. Every error carries a stable `code`; `retryable` says whether the
 * same input may succeed later (a lock that was busy) or never will (a vector of the wrong size).
 */
export class CoreError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  constructor(code: string, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** An S3 object key or id that does not follow `users/<userId>/<imageId>.<ext>`. */
export class InvalidKeyError extends CoreError {
  constructor(message: string) {
    super("invalid_key", message);
  }
}

/** A record whose model or dimension differs from the store it is written to. */
export class ModelMismatchError extends CoreError {
  constructor(message: string) {
    super("model_mismatch", message);
  }
}

/** The per-user lock could not be taken within the bounded wait. Retrying later can help. */
export class LockTimeoutError extends CoreError {
  constructor(message: string, cause?: unknown) {
    super("lock_timeout", message, { cause, retryable: true });
  }
}

/** A store file whose header or framing cannot be read. */
export class CorruptStoreError extends CoreError {
  constructor(message: string, cause?: unknown) {
    super("corrupt_store", message, { cause });
  }
}

/** A caller's parameter outside its allowed range (threshold, minSize, limit...). */
export class InvalidParameterError extends CoreError {
  constructor(message: string) {
    super("invalid_parameter", message);
  }
}

/**
 * The exact path found more pairs at or above the cut than it may cluster within its budget
 * (`limit`): a lower threshold than this library allows. A higher threshold can succeed.
 */
export class TooManyPairsError extends CoreError {
  constructor(readonly limit: number) {
    super("too_many_pairs", `more than ${limit} pairs of photos are at or above this threshold`);
  }
}

/**
 * A process's environment is incomplete or malformed, found at start: `problems` names each one
 * (every package reads its settings in its config module and throws this).
 */
export class ConfigError extends CoreError {
  readonly problems: readonly string[];
  constructor(message: string, problems: readonly string[] = [message]) {
    super("config", message);
    this.problems = problems;
  }
}

/** A vector that cannot be stored: zero length or non-finite values (normalising it would give NaN). */
export class InvalidVectorError extends CoreError {
  constructor(message: string) {
    super("invalid_vector", message);
  }
}

/** The store lock was lost while a batch held it (stale or removed); the batch may retry. */
export class LockCompromisedError extends CoreError {
  constructor(message: string, cause?: unknown) {
    super("lock_compromised", message, { cause, retryable: true });
  }
}
