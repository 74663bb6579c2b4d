/**
 * A store whose filesystem fills up mid-write, on a real (tiny) tmpfs: mounting one needs root, as
 * on the machine CI runs on.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, open, rm, stat, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { put, quietLogger, testModel } from "../fixtures/factories.ts";
import { openStore } from "../index.ts";

const root = process.getuid?.() === 0;
let dir: string;

describe.skipIf(!root)("the store on a filesystem that fills up mid-write", () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "disk-full-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]);
  });
  afterAll(async () => {
    execFileSync("umount", [dir]);
    await rm(dir, { recursive: true, force: true });
  });

  it("fails the batch with ENOSPC, keeps what was stored readable, and takes the same batch once there is room", async () => {
    const model = testModel(2048, 0.3);
    const store = openStore({ root: join(dir, "store"), model, logger: quietLogger });
    await store.write(
      "ann",
      Array.from({ length: 5 }, (_, i) => put("ann", `early${i}`, i + 1, { dimension: 2048 })),
    );
    // Fill the filesystem, then free about 100 KB; the batch needs about 250 KB.
    const filler = join(dir, "filler");
    const fh = await open(filler, "w");
    try {
      for (;;) await fh.write(Buffer.alloc(64 * 1024));
    } catch {
      // full
    } finally {
      await fh.close();
    }
    await truncate(filler, (await stat(filler)).size - 100 * 1024);
    const batch = Array.from({ length: 30 }, (_, i) => put("ann", `late${i}`, 100 + i, { dimension: 2048 }));

    const failed = await store.write("ann", batch).then(
      () => null,
      (error: NodeJS.ErrnoException) => error,
    );
    const during = await openStore({ root: join(dir, "store"), model, logger: quietLogger }).read("ann");
    await rm(filler);
    const retried = await store.write("ann", batch);
    const after = await openStore({ root: join(dir, "store"), model, logger: quietLogger }).read("ann");
    const view = await openStore({ root: join(dir, "store"), model, logger: quietLogger }).readView("ann");

    expect(failed?.code).toBe("ENOSPC");
    expect(during.images.map((i) => i.imageId).sort()).toEqual(["early0", "early1", "early2", "early3", "early4"]);
    expect(retried.results.every((r) => r.outcome === "stored")).toBe(true);
    expect(after.images).toHaveLength(35);
    expect(view.imageCount).toBe(35);
  }, 60_000);
});
