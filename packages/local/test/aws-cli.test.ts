/**
 * The local runtime through the AWS CLI, as a user with `aws --endpoint-url` would drive it (Debian's
 * awscli, which .ci/run installs; skipped where no `aws` is on the PATH): awkward names copied with
 * `aws s3 cp --recursive` come back with their exact ids, a 30 MB single PUT is taken by the local S3
 * and refused by the pipeline as too large, and the failure goes once a good photo replaces it.
 */
import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemTool } from "@photo-clusters/core/test/system-tool";
import type { ClustersBody, StatusBody } from "../src/cli/api-client.ts";
import { startTestRuntime, type TestRuntime } from "./test-runtime.ts";

const SHARED = join(import.meta.dirname, "../../../../shared");
const PHOTOS = join(SHARED, "data/dev-photos");
const NAMES: Record<string, string> = {
  "IMG_1234 (1).jpg": "4aaa68e8",
  "2019-05-01 12.30.45.jpg": "68732b28",
  "2024/05/IMG 0001.JPG": "7dfc70fa",
  "a+b.jpeg": "8341dfed",
};

const AWS = systemTool("aws", "apt-get install awscli");

describe.skipIf(!AWS)("the local runtime through the AWS CLI", () => {
  let runtime: TestRuntime;
  let work: string;
  const run = promisify(execFile);
  const aws = (...args: string[]) =>
    run(AWS!, ["--endpoint-url", runtime.emulator.endpoint, ...args], {
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: "local",
        AWS_SECRET_ACCESS_KEY: "local",
        AWS_DEFAULT_REGION: "us-east-1",
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_PAGER: "",
        AWS_CONFIG_FILE: "/dev/null",
        AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
      },
      maxBuffer: 16 * 2 ** 20,
    });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "aws-cli-"));
    runtime = await startTestRuntime();
  });
  afterAll(async () => {
    await runtime?.stop();
    await rm(work, { recursive: true, force: true });
  });

  async function get<T>(path: string): Promise<T> {
    const res = await fetch(`${runtime.apiUrl}/users/quinn/${path}`, { headers: { Authorization: `Bearer ${await runtime.auth.issueDevToken("quinn")}` } });
    return (await res.json()) as T;
  }
  async function until<T>(path: string, done: (body: T) => boolean): Promise<T> {
    for (let i = 0; i < 150; i++) {
      const body = await get<T>(path);
      if (done(body)) return body;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${path} did not get there within 30 s`);
  }

  it("clusters a folder copied with `aws s3 cp --recursive` by the photos' exact ids", async () => {
    const folder = join(work, "album");
    await mkdir(join(folder, "2024/05"), { recursive: true });
    for (const [name, photo] of Object.entries(NAMES)) await copyFile(join(PHOTOS, `${photo}.jpg`), join(folder, name));
    await aws("s3", "cp", "--recursive", "--only-show-errors", folder, "s3://photos/users/quinn/");
    const body = await until<ClustersBody>("clusters?threshold=0.8", (b) => b.imageCount === 4);
    expect(body.clusters.map((c) => c.images.map((i) => i.imageId).sort())).toEqual([["2019-05-01 12.30.45", "2024/05/IMG 0001", "IMG_1234 (1)", "a+b"]]);
  });

  it("takes a 30 MB single PUT, which the pipeline refuses as too large; a good photo at the same key clears it", async () => {
    const big = join(work, "panorama.jpg");
    await writeFile(big, Buffer.alloc(30 * 2 ** 20, 0xff));
    await aws("s3api", "put-object", "--bucket", "photos", "--key", "users/quinn/panorama 2024.jpg", "--body", big, "--content-type", "image/jpeg");
    const failed = await until<StatusBody>("status", (s) => s.failed.length > 0);
    expect(failed.failed).toEqual([expect.objectContaining({ key: "users/quinn/panorama 2024.jpg", imageId: "panorama 2024", code: "too_large" })]);

    await aws(
      "s3api",
      "put-object",
      "--bucket",
      "photos",
      "--key",
      "users/quinn/panorama 2024.jpg",
      "--body",
      join(PHOTOS, "00d7a649.jpg"),
      "--content-type",
      "image/jpeg",
    );
    const cleared = await until<StatusBody>("status", (s) => s.stored === 5);
    expect(cleared.failed).toEqual([]);
  });
});
