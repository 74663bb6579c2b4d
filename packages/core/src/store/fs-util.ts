/** Small filesystem helpers with the durability steps spelled out. */
import { randomBytes } from "node:crypto";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * File contents as of one fstat, or null when it does not exist. One pread for the whole size
 * (fs.promises.readFile reads in 512 KiB chunks, each a round trip to the thread pool). Bytes
 * appended after the fstat are left for the next read, like a frame still being written.
 */
export async function readIfExists(path: string): Promise<Buffer | null> {
  const got = await readPathFrom(path, 0);
  return got ? got.buf : null;
}

/**
 * The bytes of `path` from `offset` to its size at one fstat, with that fstat, and its first
 * `headBytes` bytes too when asked; null when it does not exist.
 */
export async function readPathFrom(path: string, offset: number, headBytes = 0): Promise<{ buf: Buffer; head: Buffer; ino: number; size: number } | null> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  try {
    const { ino, size } = await fh.stat();
    const head = headBytes > 0 ? await readRange(fh, 0, Math.min(headBytes, size)) : Buffer.alloc(0);
    return { buf: await readRange(fh, offset, size), head, ino, size };
  } finally {
    await fh.close();
  }
}

/** What an open file holds from `offset` to `size` (its size at a stat the caller made). */
export async function readRange(fh: FileHandle, offset: number, size: number): Promise<Buffer> {
  const length = Math.max(0, size - offset);
  const buf = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await fh.read(buf, filled, length - filled, offset + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buf : buf.subarray(0, filled);
}

/**
 * Writes all of `buf` at `position`. One write call may write less (a filling disk can cause that,
 * with no error); the rest is written after it, and a write that makes no progress is an error.
 */
export async function writeAt(fh: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < buf.length; ) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    if (bytesWritten <= 0) throw new Error(`write made no progress at byte ${position + done}`);
    done += bytesWritten;
  }
}

/** Writes a new file next to `path`, fsyncs it and returns its name, ready for `commitFile`. */
export async function writeTemp(path: string, chunks: readonly Uint8Array[]): Promise<string> {
  return writeTempWith(path, async (append) => {
    for (const chunk of chunks) await append(chunk);
  });
}

/** The same, for contents made as they are written (`fill` appends each chunk in turn). */
export async function writeTempWith(path: string, fill: (append: (chunk: Uint8Array) => Promise<void>) => Promise<void>): Promise<string> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const fh = await open(temp, "wx");
  try {
    let at = 0;
    await fill(async (chunk) => {
      await writeAt(fh, chunk, at);
      at += chunk.length;
    });
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
