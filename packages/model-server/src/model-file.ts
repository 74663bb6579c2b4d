/**
 * Where the ONNX file comes from: an explicit path, the shared copy next to the repository
 * (`../shared/models/<file>` from the repo root), or a download of `model.source.url` into a
 * cache directory, checked against the pinned sha256 before it is used.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ModelDescriptor } from "@photo-clusters/core";
import { ModelFileError } from "./errors.ts";

export interface ResolveOptions {
  /** Use this file; it must exist. */
  modelPath?: string;
  /** Where downloads are kept (default: `<tmpdir>/photo-clusters-models`). */
  cacheDir?: string;
  /** Repository root for the shared local copy (default: three levels above this file). */
  repoRoot?: string;
  fetch?: typeof globalThis.fetch;
}

const defaultRepoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export async function resolveModelPath(model: ModelDescriptor, options: ResolveOptions = {}): Promise<string> {
  if (options.modelPath) {
    const path = resolve(options.modelPath);
    if (!(await isFile(path))) throw new ModelFileError(`model file ${path} does not exist (set MODEL_PATH to an ONNX file)`);
    return path;
  }
  const fileName = basename(new URL(model.source.url).pathname);
  const shared = resolve(options.repoRoot ?? defaultRepoRoot, "../shared/models", fileName);
  if (await isFile(shared)) return shared;

  const cacheDir = resolve(options.cacheDir ?? join(tmpdir(), "photo-clusters-models"));
  const cached = join(cacheDir, `${model.id}-${model.source.sha256.slice(0, 12)}.onnx`);
  if ((await isFile(cached)) && (await sha256File(cached)) === model.source.sha256) return cached;
  await download(model, cached, options.fetch ?? globalThis.fetch);
  return cached;
}

/** Streams `model.source.url` to a temp file while hashing it; renames it into place only if the digest matches. */
async function download(model: ModelDescriptor, target: string, fetchImpl: typeof globalThis.fetch): Promise<void> {
  const { url, sha256 } = model.source;
  await mkdir(dirname(target), { recursive: true });
  const temp = `${target}.${process.pid}.${Date.now()}.part`;
  try {
    let response: Response;
    try {
      response = await fetchImpl(url, { redirect: "follow" });
    } catch (cause) {
      throw new ModelFileError(`cannot download ${model.id} from ${url}: ${(cause as Error).message}`, cause);
    }
    if (!response.ok || !response.body) throw new ModelFileError(`cannot download ${model.id} from ${url}: HTTP ${response.status}`);
    const hash = createHash("sha256");
    const file = await open(temp, "w");
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        await file.write(chunk);
      }
      await file.sync();
    } finally {
      await file.close();
    }
    const actual = hash.digest("hex");
    if (actual !== sha256) {
      throw new ModelFileError(`downloaded ${model.id} from ${url} has sha256 ${actual}, expected ${sha256}; refusing to use it`);
    }
    await rename(temp, target);
  } finally {
    await rm(temp, { force: true });
  }
}
