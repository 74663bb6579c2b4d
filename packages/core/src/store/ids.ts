/**
 * Path safety for the store: callers validate ids already, but nothing reaches a path on disk
 * without being checked here again. Image ids never name a file: they are checked as ids only.
 */
import { InvalidKeyError } from "../errors.ts";
import { ID_PATTERN as ID, imageIdProblem } from "../keys.ts";
/** Model ids become file names: same alphabet plus dots, never starting with one. */
const MODEL_ID = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

export function assertId(what: "user id", id: string): void {
  if (typeof id !== "string" || !ID.test(id)) {
    throw new InvalidKeyError(`${what} ${JSON.stringify(id)} must match ${ID}`);
  }
}

export function assertImageId(id: string): void {
  const problem = imageIdProblem(id);
  if (problem) throw new InvalidKeyError(`image id ${JSON.stringify(id)} ${problem}`);
}

export function assertModelId(id: string): void {
  if (typeof id !== "string" || !MODEL_ID.test(id)) {
    throw new InvalidKeyError(`model id ${JSON.stringify(id)} must match ${MODEL_ID}`);
  }
}
