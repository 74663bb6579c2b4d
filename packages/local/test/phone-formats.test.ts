/**
 * Phone photos through the whole local pipeline: HEIC (the iPhone camera's default), HEIF and AVIF,
 * uploaded by PUT and by the app's presigned POST, are stored and cluster with their JPEG twins; a
 * sideways photo with EXIF orientation 6 clusters with its upright twin; a `.heic` holding text
 * fails with its own code. HEIC files are made at run time by Debian's heif-enc from dev photos.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemTool } from "@photo-clusters/core/test/system-tool";
import type { ClustersBody, StatusBody } from "../src/cli/api-client.ts";
import { collectPhotos, putViaApi, uploadPhotos } from "../src/cli/upload.ts";
import { startTestRuntime, type TestRuntime } from "./test-runtime.ts";

const SHARED = join(import.meta.dirname, "../../../../shared");
const PHOTOS = join(SHARED, "data/dev-photos");
const HEIF_ENC = systemTool("heif-enc", "apt-get install libheif-examples");
// One group of near-duplicates from groups.csv.
const GROUP = ["4aaa68e8", "68732b28", "7dfc70fa", "8341dfed", "8f8ad469"];

/** The group as a phone library: a JPEG, an upper-case .HEIC, a .heif, an .avif, and a sideways JPEG tagged orientation 6. */
async function phoneLibrary(folder: string): Promise<Record<string, Buffer>> {
  const jpeg = (i: number) => readFile(join(PHOTOS, `${GROUP[i]}.jpg`));
  const heic = async (i: number) => {
    const out = join(folder, `tmp-${i}.heic`);
    execFileSync("heif-enc", ["-q", "75", "-o", out, join(PHOTOS, `${GROUP[i]}.jpg`)], { stdio: "ignore" });
    const bytes = await readFile(out);
    await rm(out);
    return bytes;
  };
  return {
    "IMG_0001.jpg": await jpeg(0),
    "IMG_0002.HEIC": await heic(1),
    "IMG_0003.heif": await heic(2),
    "IMG_0004.avif": await sharp(await jpeg(3))
      .avif({ quality: 60 })
      .toBuffer(),
    // Stored turned a quarter to the left; orientation 6 tells a viewer to turn it back.
    "IMG_0005.jpg": await sharp(await jpeg(4))
      .rotate(270)
      .jpeg({ quality: 92 })
      .withMetadata({ orientation: 6 })
      .toBuffer(),
  };
}

describe.skipIf(!HEIF_ENC)("phone photo formats through the local runtime", () => {
  let runtime: TestRuntime;
  let folder: string;
  let library: Record<string, Buffer>;

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), "phone-library-"));
    library = await phoneLibrary(folder);
    for (const [name, bytes] of Object.entries(library)) await writeFile(join(folder, name), bytes);
    runtime = await startTestRuntime({ visibilityTimeoutSeconds: 10 });
  });
  afterAll(async () => {
    await runtime?.stop();
    await rm(folder, { recursive: true, force: true });
  });

  const get = async <T>(userId: string, path: string): Promise<T> => {
    const res = await fetch(`${runtime.apiUrl}/users/${userId}/${path}`, { headers: { Authorization: `Bearer ${await runtime.auth.issueDevToken(userId)}` } });
    return (await res.json()) as T;
  };
  async function settled(userId: string, photos: number): Promise<StatusBody> {
    for (let i = 0; i < 300; i++) {
      const status = await get<StatusBody>(userId, "status");
      if (status.stored + status.failed.length >= photos) return status;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${userId}'s photos did not settle within 60 s`);
  }
  const clusteredIds = async (userId: string) => (await get<ClustersBody>(userId, "clusters")).clusters.map((c) => c.images.map((i) => i.imageId).sort());

  it("stores HEIC, HEIF, AVIF and a sideways JPEG put straight into S3, in one cluster with their JPEG twin", async () => {
    // Act
    for (const [name, bytes] of Object.entries(library)) {
      await runtime.emulator.s3.send(new PutObjectCommand({ Bucket: "photos", Key: `users/ivy/${name}`, Body: bytes }));
    }
    const status = await settled("ivy", 5);

    // Assess
    expect(status).toMatchObject({ stored: 5, failed: [] });
    expect(await clusteredIds("ivy")).toEqual([["IMG_0001", "IMG_0002", "IMG_0003", "IMG_0004", "IMG_0005"]]);
  });

  it("stores the same library uploaded as the app uploads, through presigned POSTs of image/heic, image/heif and image/avif", async () => {
    // Act
    await uploadPhotos(putViaApi(runtime.apiUrl, await runtime.auth.issueDevToken("jay")), await collectPhotos("jay", [folder]), { quiet: true });
    const status = await settled("jay", 5);

    // Assess
    expect(status).toMatchObject({ stored: 5, failed: [] });
    expect(await clusteredIds("jay")).toEqual([["IMG_0001", "IMG_0002", "IMG_0003", "IMG_0004", "IMG_0005"]]);
  });

  it("fails a .heic file holding text with a code that says it is not a photo, and stores the rest", async () => {
    // Act
    await runtime.emulator.s3.send(new PutObjectCommand({ Bucket: "photos", Key: "users/kim/notes.heic", Body: "my packing list, saved as .heic" }));
    await runtime.emulator.s3.send(new PutObjectCommand({ Bucket: "photos", Key: "users/kim/IMG_0002.HEIC", Body: library["IMG_0002.HEIC"] }));
    const status = await settled("kim", 2);

    // Assess
    expect(status.stored).toBe(1);
    expect(status.failed).toEqual([
      { key: "users/kim/notes.heic", imageId: "notes", code: "not_an_image", message: expect.stringMatching(/not a photo/), at: expect.any(String) },
    ]);
  });
});
