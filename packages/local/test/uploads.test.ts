/**
 * Uploads as the app makes them, through the local runtime: the API signs a presigned POST
 * (`POST /users/{userId}/uploads`), the form goes to the local S3, which checks the policy as S3
 * does, and the pipeline stores the photo. The CLI's `upload --via-api` does the same.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { MAX_OBJECT_BYTES } from "@photo-clusters/functions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClustersBody, StatusBody } from "../src/cli/api-client.ts";
import { collectPhotos, putViaApi, uploadPhotos } from "../src/cli/upload.ts";
import { startTestRuntime, type TestRuntime } from "./test-runtime.ts";

const SHARED = join(import.meta.dirname, "../../../../shared");
const PHOTOS = join(SHARED, "data/dev-photos");
const GROUP = ["4aaa68e8", "68732b28", "7dfc70fa"];
const REPO = join(import.meta.dirname, "../../..");

interface Signed {
  key: string;
  imageId: string;
  upload: { method: string; url: string; fields: Record<string, string> };
}

describe("presigned uploads through the local runtime", () => {
  let runtime: TestRuntime;
  let folder: string;

  beforeAll(async () => {
    runtime = await startTestRuntime();
    // A folder named as phones and exports name photos: a group of near-duplicates.
    folder = await mkdtemp(join(tmpdir(), "uploads-folder-"));
    await mkdir(join(folder, "2024/05"), { recursive: true });
    for (const [i, name] of ["IMG_1234 (1).jpg", "2024/05/IMG 0001.JPG", "café ☕.jpg"].entries())
      await symlink(join(PHOTOS, `${GROUP[i]}.jpg`), join(folder, name));
  });
  afterAll(async () => {
    await runtime?.stop();
    await rm(folder, { recursive: true, force: true });
  });

  const tokenFor = (userId: string) => runtime.auth.issueDevToken(userId);
  async function sign(userId: string, request: object, as = userId): Promise<{ status: number; body: Signed & { error?: { message: string } } }> {
    const res = await fetch(`${runtime.apiUrl}/users/${userId}/uploads`, {
      method: "POST",
      headers: { Authorization: `Bearer ${await tokenFor(as)}`, "Content-Type": "application/json" },
      body: JSON.stringify(request),
    });
    return { status: res.status, body: (await res.json()) as Signed & { error?: { message: string } } };
  }
  async function post(signed: Signed, file: Uint8Array, change: Record<string, string> = {}) {
    const form = new FormData();
    for (const [name, value] of Object.entries({ ...signed.upload.fields, ...change })) form.append(name, value);
    form.append("file", new Blob([file], { type: "image/jpeg" }), "photo.jpg");
    const res = await fetch(signed.upload.url, { method: "POST", body: form });
    const text = await res.text();
    return { status: res.status, code: /<Code>(.*?)<\/Code>/.exec(text)?.[1], message: /<Message>(.*?)<\/Message>/.exec(text)?.[1] };
  }
  const exists = (key: string) =>
    runtime.emulator.s3.send(new HeadObjectCommand({ Bucket: "photos", Key: key })).then(
      () => true,
      (e: { name?: string }) => (e.name === "NotFound" ? false : Promise.reject(e)),
    );
  async function get<T>(userId: string, path: string): Promise<T> {
    const res = await fetch(`${runtime.apiUrl}/users/${userId}/${path}`, { headers: { Authorization: `Bearer ${await tokenFor(userId)}` } });
    return (await res.json()) as T;
  }
  async function untilStored(userId: string, count: number): Promise<StatusBody> {
    for (let i = 0; i < 150; i++) {
      const status = await get<StatusBody>(userId, "status");
      if (status.stored >= count) return status;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${userId}: ${count} photos were not stored within 30 s`);
  }

  it("stores awkwardly named photos uploaded with the API's forms under the user's prefix, and clusters them by their exact ids", async () => {
    // Act
    await uploadPhotos(putViaApi(runtime.apiUrl, await tokenFor("alice")), await collectPhotos("alice", [folder]), { quiet: true });
    // Assess
    await untilStored("alice", 3);
    const body = await get<ClustersBody>("alice", "clusters?threshold=0.8");
    expect(body.clusters.map((c) => c.images.map((i) => i.imageId).sort())).toEqual([["2024/05/IMG 0001", "IMG_1234 (1)", "café ☕"]]);
    expect(await exists("users/alice/2024/05/IMG 0001.JPG")).toBe(true);
  });

  it("refuses a form changed to another user's prefix, another name or another type, and stores nothing", async () => {
    // Prepare
    const photo = await readFile(join(PHOTOS, `${GROUP[0]}.jpg`));
    const { body: signed } = await sign("bob", { name: "mine.jpg", contentType: "image/jpeg", size: photo.length });
    // Act
    const otherUser = await post(signed, photo, { key: "users/carol/mine.jpg" });
    const otherName = await post(signed, photo, { key: "users/bob/other.jpg" });
    const otherType = await post(signed, photo, { "Content-Type": "text/html" });
    // Assess
    for (const answer of [otherUser, otherName, otherType]) {
      expect(answer.status).toBe(403);
      expect(answer.code).toBe("AccessDenied");
      expect(answer.message).toMatch(/^Invalid according to Policy: Policy Condition failed/);
    }
    expect(await exists("users/carol/mine.jpg")).toBe(false);
    expect(await exists("users/bob/other.jpg")).toBe(false);
    expect(await exists("users/bob/mine.jpg")).toBe(false);
    // The form as signed is accepted.
    expect((await post(signed, photo)).status).toBe(204);
    expect(await exists("users/bob/mine.jpg")).toBe(true);
  });

  it("refuses a body over the signed size range", async () => {
    const { body: signed } = await sign("bob", { name: "huge.jpg", contentType: "image/jpeg", size: MAX_OBJECT_BYTES });
    const answer = await post(signed, new Uint8Array(MAX_OBJECT_BYTES + 1));
    expect(answer.status).toBe(400);
    expect(answer.code).toBe("EntityTooLarge");
    expect(await exists("users/bob/huge.jpg")).toBe(false);
  });

  it("signs only for the token's own user", async () => {
    const { status } = await sign("carol", { name: "a.jpg", contentType: "image/jpeg", size: 10 }, "bob");
    expect(status).toBe(403);
  });

  it("uploads with `photo-clusters upload --via-api`", async () => {
    const run = promisify(execFile);
    const { stderr } = await run(process.execPath, ["--import", "tsx", "packages/local/src/cli/main.ts", "upload", "--via-api", "--user", "dave", folder], {
      cwd: REPO,
      env: { ...process.env, API_URL: runtime.apiUrl, DATA_DIR: runtime.dataDir },
    });
    expect(stderr).toContain(`uploaded 3 photos through ${runtime.apiUrl} for user dave`);
    expect((await untilStored("dave", 3)).stored).toBe(3);
  });
});
