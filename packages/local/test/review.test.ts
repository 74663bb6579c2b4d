/**
 * The review of a cluster through the whole local pipeline: facts from the poller's decode, stored
 * with each photo, and the clusters answer's best shot, duplicates and capture times.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PHOTOS, startTestRuntime, type TestRuntime } from "./test-runtime.ts";

interface Image {
  imageId: string;
  takenAt: string | null;
  width: number | null;
  height: number | null;
  bytes: number | null;
  format: string | null;
  sharpness: number | null;
}
interface Cluster {
  best: { imageId: string; reasons: string[] } | null;
  duplicates: string[][];
  takenFrom: string | null;
  takenTo: string | null;
  images: Image[];
}

describe("reviewing a cluster", () => {
  let runtime: TestRuntime;
  let token: string;
  beforeAll(async () => {
    runtime = await startTestRuntime();
    token = await runtime.auth.issueDevToken("rita");
  });
  afterAll(() => runtime?.stop());

  it("suggests the original, finds its identical copy, and orders the burst by capture time", async () => {
    // Prepare: one scene four times: the camera's photo, a byte-identical copy of it, a blurred frame
    // taken two seconds later, and a half-size copy without EXIF
    const scene = await readFile(join(PHOTOS, "09fe9adb.jpg"));
    const exif = (time: string) => ({ IFD0: { Make: "Phone" }, IFD2: { DateTimeOriginal: time, SubSecTimeOriginal: "25", OffsetTimeOriginal: "+01:00" } });
    const original = await sharp(scene).withExif(exif("2024:07:01 10:00:00")).jpeg({ quality: 92 }).toBuffer();
    const blurred = await sharp(scene).blur(4).withExif(exif("2024:07:01 10:00:02")).jpeg({ quality: 92 }).toBuffer();
    const half = await sharp(scene).resize(512).jpeg({ quality: 92 }).toBuffer();
    const photos: Record<string, Buffer> = { "IMG_0001.JPG": original, "IMG_0001 (copy).JPG": original, "IMG_0002.JPG": blurred, "small.jpg": half };
    for (const [name, body] of Object.entries(photos))
      await runtime.emulator.s3.send(new PutObjectCommand({ Bucket: "photos", Key: `users/rita/${name}`, Body: body, ContentType: "image/jpeg" }));

    // Act: the clusters answer once all four are stored
    let cluster: Cluster | undefined;
    for (let i = 0; i < 150 && !cluster; i++) {
      const body = (await (await fetch(`${runtime.apiUrl}/users/rita/clusters?threshold=0.5`, { headers: { Authorization: `Bearer ${token}` } })).json()) as {
        clusters: Cluster[];
      };
      cluster = body.clusters.find((c) => c.images.length === 4);
      if (!cluster) await new Promise((r) => setTimeout(r, 200));
    }

    // Assess
    expect(cluster, "the four photos in one cluster within 30 s").toBeDefined();
    const c = cluster!;
    expect(c.images.map((img) => img.imageId)).toEqual(["IMG_0001", "IMG_0001 (copy)", "IMG_0002", "small"]);
    expect(c.images.map((img) => img.takenAt)).toEqual([
      "2024-07-01T10:00:00.250+01:00",
      "2024-07-01T10:00:00.250+01:00",
      "2024-07-01T10:00:02.250+01:00",
      null,
    ]);
    expect(c).toMatchObject({ takenFrom: "2024-07-01T10:00:00.250+01:00", takenTo: "2024-07-01T10:00:02.250+01:00" });
    expect(c.images[0]).toMatchObject({ width: 1024, height: 768, bytes: original.length, format: "jpeg" });
    expect(c.images[3]).toMatchObject({ width: 512, height: 384, bytes: half.length });
    expect(c.best?.imageId).toBe("IMG_0001");
    // The half-size copy looks crisper at the model's scale, but has half the pixels.
    expect(c.best?.reasons).toEqual(expect.arrayContaining(["most_pixels", "largest_file", "earliest"]));
    // Identical bytes are always the same picture (the half-size copy, too, by its hash and embedding).
    expect(c.duplicates).toHaveLength(1);
    expect(c.duplicates[0]).toEqual(expect.arrayContaining(["IMG_0001", "IMG_0001 (copy)"]));
    expect(c.images[2]!.sharpness!).toBeLessThan(c.images[0]!.sharpness!);
  });
});
