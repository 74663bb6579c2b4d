/** Where one user's files live: `<root>/<userId>/<modelId>.emb`, `.refs`, `.graph`, `.facts`, and the lock `.emb.lock`. */
import { join } from "node:path";
import { assertId, assertModelId } from "./ids.ts";

export interface UserPaths {
  dir: string;
  log: string;
  graph: string;
  refs: string;
  facts: string;
  lock: string;
}

export function userPaths(root: string, userId: string, modelId: string): UserPaths {
  assertId("user id", userId);
  assertModelId(modelId);
  const dir = join(root, userId);
  const log = join(dir, `${modelId}.emb`);
  return { dir, log, graph: join(dir, `${modelId}.graph`), refs: join(dir, `${modelId}.refs`), facts: join(dir, `${modelId}.facts`), lock: `${log}.lock` };
}
