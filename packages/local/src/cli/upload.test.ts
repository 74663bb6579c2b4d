import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectPhotos } from "./upload.ts";

const REPO = join(import.meta.dirname, "../../../..");

describe("the upload command's choice of files", () => {
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), "upload-choice-"));
    await mkdir(join(folder, "Trip"));
    for (const name of ["IMG_0001.HEIC", "IMG_0002.heif", "IMG_0003.avif", "IMG_0004.JPG", "IMG_0004.png", "notes.txt", ".DS_Store", "Trip/IMG_0005.MOV"])
      await writeFile(join(folder, name), "bytes");
  });
  afterAll(() => rm(folder, { recursive: true, force: true }));

  it("takes phone formats in any letter case, and names every file it leaves out with the reason", async () => {
    const skipped: Array<[string, string]> = [];

    const items = await collectPhotos("ann", [folder], (path, reason) => skipped.push([path.slice(folder.length + 1), reason]));

    expect(items.map((i) => i.key)).toEqual(["users/ann/IMG_0001.HEIC", "users/ann/IMG_0002.heif", "users/ann/IMG_0003.avif", "users/ann/IMG_0004.JPG"]);
    expect(skipped).toEqual([
      [".DS_Store", "hidden (its name starts with a dot)"],
      ["Trip/IMG_0005.MOV", expect.stringMatching(/^not a photo: the name must end in \.jpg, \.jpeg, \.png, \.webp, \.heic, \.heif, \.avif/)],
      ["notes.txt", expect.stringMatching(/^not a photo/)],
      ["IMG_0004.png", 'another photo already has the image id "IMG_0004"'],
    ]);
  });

  it("says why nothing was uploaded when a folder holds no photo, instead of uploading 0 photos", async () => {
    // Prepare
    const empty = await mkdtemp(join(tmpdir(), "upload-none-"));
    await writeFile(join(empty, "clip.mov"), "video");

    // Act: it fails before it needs any S3
    const run = await promisify(execFile)("node", ["--import", "tsx", "packages/local/src/cli/main.ts", "upload", "--user", "ann", empty], { cwd: REPO }).catch(
      (e: { code: number; stderr: string }) => e,
    );

    // Assess
    expect(run).toMatchObject({ code: 1 });
    expect((run as { stderr: string }).stderr).toMatch(/skipping .*clip\.mov: not a photo/);
    expect((run as { stderr: string }).stderr).toMatch(/no photos to upload in .* \(1 skipped, reasons above\)/);
    await rm(empty, { recursive: true, force: true });
  });
});
