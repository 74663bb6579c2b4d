/** Small filesystem helpers with the durability steps spelled out. */
import { randomBytes } from "node:crypto";
import { open, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** File contents, or null when it does not exist. */
export async function readIfExists(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** Writes a new file next to `path`, fsyncs it and returns its name, ready for `commitFile`. */
export async function writeTemp(path: string, chunks: readonly Uint8Array[]): Promise<string> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const fh = await open(temp, "wx");
  try {
    for (const chunk of chunks) await fh.write(chunk);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw err;
  }
  await fh.close();
  return temp;
}

/** Renames temp files over their targets, then fsyncs the directory so the renames survive a crash. */
export async function commitFiles(pairs: ReadonlyArray<[temp: string, path: string]>): Promise<void> {
  for (const [temp, path] of pairs) await rename(temp, path);
  const dirs = new Set(pairs.map(([, path]) => dirname(path)));
  for (const dir of dirs) await syncDir(dir);
}

export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } catch (err) {
    // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
    if (!["EINVAL", "EISDIR", "EPERM", "EBADF"].includes((err as NodeJS.ErrnoException).code ?? "")) throw err;
  } finally {
    await fh.close();
  }
}

export async function atomicWrite(path: string, chunks: readonly Uint8Array[]): Promise<void> {
  await commitFiles([[await writeTemp(path, chunks), path]]);
}
