import { mkdir, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectPhotos, putToBucket, uploadPhotos } from "../src/cli/upload.ts";
import { startTestRuntime, type TestRuntime } from "./test-runtime.ts";

const SHARED = join(import.meta.dirname, "../../../../shared");
const PHOTOS = join(SHARED, "data/dev-photos");
// Two near-duplicate groups from groups.csv and one photo that belongs to neither.
const GROUP_A = ["4aaa68e8", "68732b28", "7dfc70fa", "8341dfed", "8f8ad469"];
const GROUP_B = ["083004ea", "2e100bd0", "5372d730", "aacb5d75", "cfeb2f78"];

interface ClustersBody {
  imageCount: number;
  clusters: Array<{ size: number; band: string; images: Array<{ imageId: string; key: string }> }>;
}

describe("the whole pipeline on one machine", () => {
  let runtime: TestRuntime;
  let token: string;
  const logs: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    runtime = await startTestRuntime({ onLog: (entry) => logs.push(entry) });
    token = await runtime.auth.issueDevToken("carol");
  });
  afterAll(async () => {
    await runtime?.stop();
  });

  const upload = async (imageId: string, file = imageId) =>
    runtime.emulator.s3.send(
      new PutObjectCommand({
        Bucket: "photos",
        Key: `users/carol/${imageId}.jpg`,
        Body: await readFile(join(PHOTOS, `${file}.jpg`)),
        ContentType: "image/jpeg",
      }),
    );
  const clusters = async (query = "") => {
    const response = await fetch(`${runtime.apiUrl}/users/carol/clusters${query}`, { headers: { Authorization: `Bearer ${token}` } });
    return { status: response.status, body: (await response.json()) as ClustersBody };
  };
  const groupOf = (body: ClustersBody, imageId: string) =>
    body.clusters
      .find((c) => c.images.some((i) => i.imageId === imageId))
      ?.images.map((i) => i.imageId)
      .sort();
  async function until(condition: (body: ClustersBody) => boolean): Promise<ClustersBody> {
    for (let i = 0; i < 150; i++) {
      const { body } = await clusters();
      if (condition(body)) return body;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error("the pipeline did not get there within 30 s");
  }

  it("clusters photos uploaded through S3, after the queue's delay, and answers over HTTP with a token", async () => {
    // Act
    for (const id of [...GROUP_A, ...GROUP_B, "00d7a649"]) await upload(id);
    const body = await until((b) => b.imageCount === 11);
    // Assess
    expect(groupOf(body, GROUP_A[0])).toEqual([...GROUP_A].sort());
    expect(groupOf(body, GROUP_B[0])).toEqual([...GROUP_B].sort());
    expect(groupOf(body, "00d7a649")).toBeUndefined();
    expect(body.clusters.every((c) => ["low", "medium", "high"].includes(c.band))).toBe(true);
  });

  it("clusters a folder of awkwardly named photos uploaded as the CLI does, and answers with their exact ids", async () => {
    // Prepare: one near-duplicate group, named as phones, cloud exports and old buckets name photos.
    const names = ["IMG_1234 (1).jpg", "2019-05-01 12.30.45.jpg", "2024/05/IMG 0001.JPG", "café ☕.jpg", "a+b.jpeg"];
    const folder = await mkdtemp(join(tmpdir(), "awkward-"));
    await mkdir(join(folder, "2024/05"), { recursive: true });
    for (const [i, name] of names.entries()) await symlink(join(PHOTOS, `${GROUP_A[i]}.jpg`), join(folder, name));
    const erin = await runtime.auth.issueDevToken("erin");
    const ids = names.map((n) => n.slice(0, n.lastIndexOf("."))).sort();
    // Act
    await uploadPhotos(putToBucket(runtime.emulator.s3, "photos"), await collectPhotos("erin", [folder]), { quiet: true });
    let body: ClustersBody | undefined;
    for (let i = 0; i < 150 && body?.imageCount !== names.length; i++) {
      await new Promise((r) => setTimeout(r, 200));
      body = (await (await fetch(`${runtime.apiUrl}/users/erin/clusters`, { headers: { Authorization: `Bearer ${erin}` } })).json()) as ClustersBody;
    }
    const similar = await fetch(`${runtime.apiUrl}/users/erin/images/${encodeURIComponent("2024/05/IMG 0001")}/similar?limit=4`, {
      headers: { Authorization: `Bearer ${erin}` },
    });
    // Assess
    expect(body?.clusters.map((c) => c.images.map((img) => img.imageId).sort())).toEqual([ids]);
    expect(body?.clusters[0].images.find((img) => img.imageId === "2024/05/IMG 0001")?.key).toBe("users/erin/2024/05/IMG 0001.JPG");
    expect(similar.status).toBe(200);
    expect(((await similar.json()) as { results: Array<{ imageId: string }> }).results.map((r) => r.imageId).sort()).toEqual(
      ids.filter((id) => id !== "2024/05/IMG 0001"),
    );
    await rm(folder, { recursive: true, force: true });
  });

  it("tells the user which photo could not be added and why, until a good photo replaces it", async () => {
    const frank = await runtime.auth.issueDevToken("frank");
    const status = async () =>
      (await (await fetch(`${runtime.apiUrl}/users/frank/status`, { headers: { Authorization: `Bearer ${frank}` } })).json()) as {
        stored: number;
        failed: Array<{ key: string; imageId: string; code: string; message: string }>;
      };
    const put = (key: string, body: Uint8Array) =>
      runtime.emulator.s3.send(new PutObjectCommand({ Bucket: "photos", Key: key, Body: body, ContentType: "image/jpeg" }));
    // Act: a good photo, and text named like one
    await put("users/frank/holiday/beach 1.jpg", await readFile(join(PHOTOS, `${GROUP_A[0]}.jpg`)));
    await put("users/frank/holiday/notes.jpg", Buffer.from("this is not a photo, only text named .jpg\n"));
    let seen = await status();
    for (let i = 0; i < 150 && !(seen.stored === 1 && seen.failed.length === 1); i++) {
      await new Promise((r) => setTimeout(r, 200));
      seen = await status();
    }
    // Assess
    expect(seen.stored).toBe(1);
    expect(seen.failed).toEqual([
      {
        key: "users/frank/holiday/notes.jpg",
        imageId: "holiday/notes",
        code: "not_an_image",
        message: expect.stringMatching(/not a photo/),
        at: expect.any(String),
      },
    ]);
    // Act: the same key, now a photo
    await put("users/frank/holiday/notes.jpg", await readFile(join(PHOTOS, `${GROUP_A[1]}.jpg`)));
    for (let i = 0; i < 150 && !(seen.stored === 2 && seen.failed.length === 0); i++) {
      await new Promise((r) => setTimeout(r, 200));
      seen = await status();
    }
    expect(seen).toMatchObject({ stored: 2, failed: [] });
  });

  it("refuses callers without a token, with a forged one, or for another user, and bad thresholds", async () => {
    const noToken = await fetch(`${runtime.apiUrl}/users/carol/clusters`);
    expect(noToken.status).toBe(401);
    const forged = `${token.slice(0, token.lastIndexOf(".") + 1)}AAAA${token.slice(token.lastIndexOf(".") + 5)}`;
    expect((await fetch(`${runtime.apiUrl}/users/carol/clusters`, { headers: { Authorization: `Bearer ${forged}` } })).status).toBe(401);
    expect((await fetch(`${runtime.apiUrl}/users/dave/clusters`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(403);
    for (const t of ["abc", "-1", "2", "NaN"]) expect((await clusters(`?threshold=${t}`)).status).toBe(400);
  });

  it("changes nothing when the same bytes are uploaded again", async () => {
    // Prepare
    const before = (await clusters()).body;
    // Act
    await upload(GROUP_B[1]);
    for (
      let i = 0;
      i < 100 && !logs.some((l) => l.message === "record written" && l.key === `users/carol/${GROUP_B[1]}.jpg` && l.outcome === "duplicate");
      i++
    ) {
      await new Promise((r) => setTimeout(r, 100));
    }
    // Assess
    expect(logs.filter((l) => l.message === "record written" && l.key === `users/carol/${GROUP_B[1]}.jpg`).map((l) => l.outcome)).toEqual([
      "stored",
      "duplicate",
    ]);
    expect((await clusters()).body).toEqual(before);
  });

  it("drops a deleted photo from its cluster and the count, and moves an overwritten key to its new content's cluster", async () => {
    // Act
    await runtime.emulator.s3.send(new DeleteObjectCommand({ Bucket: "photos", Key: `users/carol/${GROUP_A[0]}.jpg` }));
    await upload(GROUP_B[0], GROUP_A[0]);
    const body = await until((b) => b.imageCount === 10 && groupOf(b, GROUP_B[0])?.includes(GROUP_A[1]) === true);
    // Assess
    expect(groupOf(body, GROUP_A[1])).toEqual([...GROUP_A.slice(1), GROUP_B[0]].sort());
    expect(groupOf(body, GROUP_B[1])).toEqual(GROUP_B.slice(1).sort());
  });
});
