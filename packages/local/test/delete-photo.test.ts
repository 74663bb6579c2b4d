/**
 * Deleting a photo from the review: `DELETE /users/{userId}/images/{imageId}` deletes its S3 object,
 * and the pipeline then removes it from the user's store, as for any delete.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deletePhotos } from "../src/cli/api-client.ts";
import { PHOTOS, startTestRuntime, type TestRuntime } from "./test-runtime.ts";

// Near-duplicates of one group in groups.csv.
const GROUP = ["4aaa68e8", "68732b28", "7dfc70fa"];

interface ClustersBody {
  imageCount: number;
  clusters: Array<{ images: Array<{ imageId: string }> }>;
}

describe("deleting a photo from the review", () => {
  let runtime: TestRuntime;
  let token: string;

  beforeAll(async () => {
    runtime = await startTestRuntime();
    token = await runtime.auth.issueDevToken("dora");
  });
  afterAll(() => runtime?.stop());

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${runtime.apiUrl}/users/${path}`, { ...init, headers: { Authorization: `Bearer ${token}`, ...init.headers } });
  const clusters = async () => (await (await api("dora/clusters")).json()) as ClustersBody;
  async function until(condition: (body: ClustersBody) => boolean): Promise<ClustersBody> {
    for (let i = 0; i < 150; i++) {
      const body = await clusters();
      if (condition(body)) return body;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error("the pipeline did not get there within 30 s");
  }
  const objectExists = (key: string) =>
    runtime.emulator.s3.send(new HeadObjectCommand({ Bucket: "photos", Key: key })).then(
      () => true,
      (error: { name?: string }) => (error.name === "NotFound" ? false : Promise.reject(error)),
    );

  it("deletes the photo's object, and the cluster then holds the photos kept", async () => {
    // Prepare: three near-duplicates stored and clustered, one under a sub-folder with a space
    const keys = GROUP.map((id, i) => `users/dora/${i === 0 ? "2024/05/" : ""}${id} copy.jpg`);
    for (const [i, key] of keys.entries())
      await runtime.emulator.s3.send(
        new PutObjectCommand({ Bucket: "photos", Key: key, Body: await readFile(join(PHOTOS, `${GROUP[i]}.jpg`)), ContentType: "image/jpeg" }),
      );
    await until((b) => b.imageCount === 3 && b.clusters.some((c) => c.images.length === 3));
    const deleted = `2024/05/${GROUP[0]} copy`;

    // Act
    const response = await api(`dora/images/${encodeURIComponent(deleted)}`, { method: "DELETE" });

    // Assess: answered at once, the object gone, then the store without it
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ imageId: deleted, key: keys[0], status: "deleting" });
    expect(await objectExists(keys[0])).toBe(false);
    expect(await objectExists(keys[1])).toBe(true);
    const after = await until((b) => b.imageCount === 2);
    expect(after.clusters.map((c) => c.images.map((i) => i.imageId).sort())).toEqual([[`${GROUP[1]} copy`, `${GROUP[2]} copy`]]);
  });

  it("deletes through `photo-clusters delete`'s client, naming each photo deleted or why not", async () => {
    await runtime.emulator.s3.send(
      new PutObjectCommand({ Bucket: "photos", Key: "users/fay/a b.jpg", Body: await readFile(join(PHOTOS, `${GROUP[0]}.jpg`)), ContentType: "image/jpeg" }),
    );
    const fay = await runtime.auth.issueDevToken("fay");
    const stored = async () => ((await (await api("fay/status", { headers: { Authorization: `Bearer ${fay}` } })).json()) as { stored: number }).stored;
    for (let i = 0; i < 150 && (await stored()) !== 1; i++) await new Promise((r) => setTimeout(r, 200));
    const outcomes = await deletePhotos(runtime.apiUrl, "fay", ["a b", "never"], fay);
    expect(outcomes).toEqual([
      { imageId: "a b", key: "users/fay/a b.jpg" },
      { imageId: "never", error: "API answered 404: no such image for this user" },
    ]);
    expect(await objectExists("users/fay/a b.jpg")).toBe(false);
  });

  it("answers 404 for a photo the user does not have and 403 for another user's, deleting nothing", async () => {
    await runtime.emulator.s3.send(
      new PutObjectCommand({ Bucket: "photos", Key: "users/ed/kept.jpg", Body: await readFile(join(PHOTOS, `${GROUP[0]}.jpg`)), ContentType: "image/jpeg" }),
    );
    expect((await api("dora/images/nope", { method: "DELETE" })).status).toBe(404);
    expect((await api("ed/images/kept", { method: "DELETE" })).status).toBe(403);
    expect(await objectExists("users/ed/kept.jpg")).toBe(true);
  });
});
