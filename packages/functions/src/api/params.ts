/**
 * Path and query parameters of the clusters API, parsed strictly: a value is either exactly
 * what the contract allows or a 400 that says what was expected. `Number("")` is 0 and
 * `parseInt("2abc")` is 2, so both are avoided in favour of whole-string patterns.
 */
import { imageIdProblem, InvalidParameterError, isValidId } from "@photo-clusters/core";

const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)$/;
const INTEGER = /^\d{1,9}$/;

export const MIN_SIZE_MAX = 100_000;
export const LIMIT_MAX = 100;
export const LIMIT_DEFAULT = 10;
/** Clusters per page of GET /users/{userId}/clusters. */
export const CLUSTER_LIMIT_MAX = 1000;
export const CLUSTER_LIMIT_DEFAULT = 100;

/** A query reader as Hono gives it: every value of a name, or undefined when absent. */
export type QueryValues = (name: string) => string[] | undefined;

export function parseId(name: "userId", value: string | undefined): string {
  if (value === undefined || !isValidId(value)) {
    throw new InvalidParameterError(`${name} must be 1 to 128 letters, digits, '_' or '-'`);
  }
  return value;
}

/** An image id as the clusters answer gives it, percent-encoded in the path ('/' as %2F). */
export function parseImageId(value: string | undefined): string {
  const problem = value === undefined ? "is missing" : imageIdProblem(value);
  if (problem) throw new InvalidParameterError(`imageId ${problem}: it is the photo's name below users/<userId>/ without its extension, percent-encoded`);
  return value!;
}

function single(query: QueryValues, name: string): string | undefined {
  const values = query(name);
  if (values === undefined || values.length === 0) return undefined;
  if (values.length > 1) throw new InvalidParameterError(`${name} must be given at most once`);
  return values[0];
}

export function parseThreshold(query: QueryValues, fallback: number): number {
  const raw = single(query, "threshold");
  if (raw === undefined) return fallback;
  const value = DECIMAL.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= 0 && value <= 1)) throw new InvalidParameterError("threshold must be a number between 0 and 1");
  return value;
}

function parseInteger(query: QueryValues, name: string, min: number, max: number, fallback: number): number {
  const raw = single(query, name);
  if (raw === undefined) return fallback;
  const value = INTEGER.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= min && value <= max)) throw new InvalidParameterError(`${name} must be an integer between ${min} and ${max}`);
  return value;
}

export function parseMinSize(query: QueryValues): number {
  return parseInteger(query, "minSize", 2, MIN_SIZE_MAX, 2);
}

export function parseLimit(query: QueryValues): number {
  return parseInteger(query, "limit", 1, LIMIT_MAX, LIMIT_DEFAULT);
}

export function parseClusterLimit(query: QueryValues): number {
  return parseInteger(query, "limit", 1, CLUSTER_LIMIT_MAX, CLUSTER_LIMIT_DEFAULT);
}

/**
 * At most how long a cursor is (base64url of a JSON array: an image id, `idJsonBytes` long as JSON
 * with its quotes, and four numbers, which with the punctuation fit in 64 bytes).
 */
export const cursorLengthBound = (idJsonBytes: number) => Math.ceil(((idJsonBytes + 64) * 4) / 3);

/** The longest cursor the API gives: an id of 1,024 bytes that JSON escapes to 6 each (control characters as \u0001). */
export const MAX_CURSOR_LENGTH = cursorLengthBound(6 * 1024 + 2);

/** The opaque `cursor` a previous page gave; clustersView checks what it says. */
export function parseCursor(query: QueryValues): string | undefined {
  const raw = single(query, "cursor");
  if (raw !== undefined && (raw.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(raw)))
    throw new InvalidParameterError("cursor is not one this API gave");
  return raw;
}
