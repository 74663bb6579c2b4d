import { execFile } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mobilenetV2Int8, openStore, userPaths } from "@photo-clusters/core";
import { afterEach, describe, expect, it } from "vitest";

const REPO = join(import.meta.dirname, "../../..");

function photoClusters(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "packages/local/src/cli/main.ts", ...args],
      { cwd: REPO, timeout: 60_000, env: { ...process.env, ...env } },
      (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
    );
  });
}

describe("pnpm photo-clusters migrate", () => {
  let dataDir: string;
  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  it("gives every user of the data dir whose files predate the refs file one, and leaves current users alone", async () => {
    dataDir = await mkdtemp(join(tmpdir(), "migrate-test-"));
    const store = openStore({ root: dataDir, model: mobilenetV2Int8, logger: { warn() {}, error() {}, debug() {} } });
    const vector = (seed: number) => Float32Array.from({ length: mobilenetV2Int8.dimension }, (_, k) => Math.sin(seed * 31 + k));
    for (const user of ["old", "new"]) {
      await store.write(
        user,
        [1, 2, 3].map((i) => ({
          kind: "put" as const,
          key: `users/${user}/p${i}.jpg`,
          imageId: `p${i}`,
          etag: `e${i}`,
          sequencer: `0${i}`,
          vector: vector(i),
        })),
      );
    }
    // Format 1 is exactly today's log and graph without the refs file.
    const old = userPaths(dataDir, "old", mobilenetV2Int8.id);
    await rm(old.refs);
    const current = userPaths(dataDir, "new", mobilenetV2Int8.id);
    const untouched = await Promise.all([current.log, current.refs, current.graph].map((p) => stat(p).then((s) => [s.ino, s.size, s.mtimeMs])));

    const result = await photoClusters(["migrate"], { DATA_DIR: dataDir });

    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^old: upgraded \(3 records\)$/m);
    expect(result.stderr).toMatch(/^new: already current \(3 records\)$/m);
    expect(result.stderr).toMatch(/migrate: 1 of 2 users upgraded/);
    expect((await stat(old.refs)).size).toBeGreaterThan(0);
    expect(await Promise.all([current.log, current.refs, current.graph].map((p) => stat(p).then((s) => [s.ino, s.size, s.mtimeMs])))).toEqual(untouched);
    const view = await store.readView("old");
    expect(view.vectors).toBeNull();
    expect(view.imageCount).toBe(3);
  }, 90_000);
});
