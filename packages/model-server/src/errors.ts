/**
 * Errors of the model server. Each carries a stable `code`, the HTTP `status` it maps to,
 * and the SageMaker runtime error type (`x-amzn-errortype`) that makes the AWS SDK's
 * InvokeEndpoint raise the matching typed exception. `expose` is true for 4xx only:
 * a 5xx response never shows its message.
 */
export type SageMakerErrorType = "ValidationError" | "ModelError" | "ServiceUnavailable" | "InternalFailure";

export class ModelServerError extends Error {
  readonly code: string;
  readonly status: number;
  readonly errorType: SageMakerErrorType;
  readonly retryable: boolean;
  constructor(code: string, message: string, options: { status?: number; errorType?: SageMakerErrorType; retryable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options.status ?? 500;
    this.errorType = options.errorType ?? "InternalFailure";
    this.retryable = options.retryable ?? false;
  }
  get expose(): boolean {
    return this.status < 500;
  }
}

/** Bytes that are not a decodable image: empty, not an image format, truncated or corrupt. */
export class InvalidImageError extends ModelServerError {
  constructor(message: string, cause?: unknown) {
    super("invalid_image", message, { status: 400, errorType: "ValidationError", cause });
  }
}

/** A declared Content-Type that cannot hold an image (e.g. text/plain). */
export class UnsupportedMediaTypeError extends ModelServerError {
  constructor(message: string) {
    super("unsupported_media_type", message, { status: 415, errorType: "ValidationError" });
  }
}

/** A body over the byte limit, or an image whose header declares more pixels than allowed. */
export class ImageTooLargeError extends ModelServerError {
  constructor(message: string) {
    super("image_too_large", message, { status: 413, errorType: "ValidationError" });
  }
}

/** The model is still loading (or failed to load). Retrying later can help. */
export class ModelNotReadyError extends ModelServerError {
  constructor(message = "the model is not loaded yet") {
    super("model_not_ready", message, { status: 503, errorType: "ServiceUnavailable", retryable: true });
  }
}

/** The ONNX file is missing, unreadable, fails its checksum, or lacks the feature tensor. */
export class ModelFileError extends ModelServerError {
  constructor(message: string, cause?: unknown) {
    super("model_file", message, { status: 500, errorType: "InternalFailure", cause });
  }
}

/** onnxruntime failed while running a batch. */
export class InferenceError extends ModelServerError {
  constructor(message: string, cause?: unknown) {
    super("inference_failed", message, { status: 500, errorType: "ModelError", retryable: true, cause });
  }
}
