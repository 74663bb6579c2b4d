/**
 * The page in a real browser (Debian's chromium-headless-shell, which .ci/run installs): it must
 * follow every page of a user's clusters, joining a cluster split between two pages.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { createApiApp } from "@photo-clusters/functions";
import { createDevAuth } from "../dev-auth.ts";
import { cliques, testModel } from "@photo-clusters/functions/test/api-factories";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemTool } from "@photo-clusters/core/test/system-tool";
import { createLocalRoutes } from "./local-routes.ts";

const BROWSER = process.env.CHROMIUM ?? systemTool("chromium-headless-shell", "apt-get install chromium-headless-shell, or CHROMIUM=<path to a Chromium>");
const SIZES = Array.from({ length: 250 }, (_, g) => (g % 50 === 0 ? 120 : 2 + (g % 3)));
const PHOTOS = SIZES.reduce((a, b) => a + b, 0);
let dataDir: string;
let server: ReturnType<typeof serve>;
let url: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "page-browser-"));
  const auth = await createDevAuth(dataDir);
  // 250 clusters: three pages at the API's default of 100 clusters a page.
  const view = cliques("alice", SIZES, (i) => `photo-${i}`);
  const app = new Hono();
  app.route("/", createLocalRoutes({ issueDevToken: auth.issueDevToken, getObject: async () => undefined }));
  // Pages of at most 100 clusters and 8 KB, so the big clusters are split between pages.
  const failed = [
    {
      key: "users/alice/holiday/notes.jpg",
      sequencer: "0A",
      imageId: "holiday/notes",
      code: "rejected_by_model",
      message: "the model server refused the image: not a JPEG",
      at: "2026-12-04T10:00:00.000Z",
    },
  ];
  app.route(
    "/",
    createApiApp({
      readUser: async () => view,
      readFailures: async () => failed,
      verifyToken: auth.verifyToken,
      model: testModel,
      logger: { info() {}, error() {} },
      maxPageBytes: 8000,
    }),
  );
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve());
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/?user=alice&threshold=0.85`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dataDir, { recursive: true, force: true });
});

/** The page's DOM once its scripts have run and its requests settled. */
function dumpDom(page: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const args = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000", "--dump-dom", page];
    execFile(BROWSER!, args, { timeout: 60_000, maxBuffer: 64 * 2 ** 20 }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      reject(new Error(`${BROWSER}: ${error.message}\n${stderr}`));
    });
  });
}

describe.skipIf(!BROWSER)("the local page in a browser", () => {
  it("shows every cluster of every page, each once, a cluster split between pages as one", async () => {
    const dom = await dumpDom(url);

    const sections = dom.match(/<section class="cluster"[ >]/g) ?? [];
    expect(sections).toHaveLength(250);
    expect(dom).toContain("holiday/notes: the model server refused the image: not a JPEG (rejected_by_model)");
    expect(dom).toMatch(/<section id="failures">/); // shown: no `hidden` attribute
    expect(dom).toContain("120 photos");
    expect(dom).toContain(`250 clusters holding ${PHOTOS}`);
    const shown = [...dom.matchAll(/alt="(photo-\d+)"/g)].map((m) => m[1]);
    expect(shown).toHaveLength(PHOTOS);
    expect(new Set(shown).size).toBe(PHOTOS);
  }, 90_000);
});
