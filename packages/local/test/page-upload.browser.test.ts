/**
 * The page as a user drives it, in a real browser (Debian's chromium-headless-shell through
 * puppeteer-core) against the whole local runtime: add a folder of awkwardly named photos with an
 * unreadable one and a non-photo, see the clusters and the failure with its reason, move the
 * threshold and see the clusters change. A screenshot is kept in the test's temp folder.
 */
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemTool } from "@photo-clusters/core/test/system-tool";
import { startTestRuntime, type TestRuntime } from "./test-runtime.ts";

const SHARED = join(import.meta.dirname, "../../../../shared");
const PHOTOS = join(SHARED, "data/dev-photos");
// Two near-duplicate groups of groups.csv, named as phones, exports and old buckets name photos.
const FOLDER: Record<string, string> = {
  "IMG_1234 (1).jpg": "4aaa68e8",
  "2019-05-01 12.30.45.jpg": "68732b28",
  "2024/05/IMG 0001.JPG": "7dfc70fa",
  "café ☕.jpg": "8341dfed",
  "a+b.jpeg": "8f8ad469",
  "Trip/IMG_0002.jpg": "083004ea",
  "Trip/IMG_0003.jpg": "2e100bd0",
  "Trip/IMG_0004.jpg": "5372d730",
  "Trip/IMG_0005.jpg": "aacb5d75",
  "Trip/IMG_0006.jpg": "cfeb2f78",
};
const idOf = (name: string) => name.slice(0, name.lastIndexOf("."));
const BROWSER = process.env.CHROMIUM ?? systemTool("chromium-headless-shell", "apt-get install chromium-headless-shell, or CHROMIUM=<path to a Chromium>");

describe.skipIf(!BROWSER)("the page in a browser, uploading a folder", () => {
  let runtime: TestRuntime;
  let work: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // Kept after the test: it holds the screenshot.
    work = await mkdtemp(join(tmpdir(), "page-upload-"));
    runtime = await startTestRuntime();
    const folder = join(work, "Holiday");
    await mkdir(join(folder, "2024/05"), { recursive: true });
    await mkdir(join(folder, "Trip"), { recursive: true });
    // Copies: a browser's folder picker leaves symbolic links out.
    for (const [name, photo] of Object.entries(FOLDER)) await copyFile(join(PHOTOS, `${photo}.jpg`), join(folder, name));
    await writeFile(join(folder, "broken.jpg"), "this is not a JPEG, whatever its name says");
    await writeFile(join(folder, "notes.txt"), "not a photo");
    browser = await puppeteer.launch({ executablePath: BROWSER!, args: ["--no-sandbox", "--disable-gpu"] });
    page = await browser.newPage();
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    await page.setViewport({ width: 1200, height: 1600 });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
  });

  const clustersShown = () =>
    page.$$eval("section.cluster", (cards) =>
      cards.map((card) => [...card.querySelectorAll("img")].map((img) => img.alt).sort()).sort((a, b) => b.length - a.length || a[0].localeCompare(b[0])),
    );

  it("uploads the folder, shows its clusters and the failed photo with its reason, and follows the threshold", async () => {
    // Act: the user opens the page as "pat" and picks the folder.
    await page.goto(`${runtime.apiUrl}/?user=pat&threshold=0.85`);
    await page.waitForFunction(`document.getElementById("summary").textContent.includes("has no photos yet")`);
    const input = await page.$("#folder");
    await input!.uploadFile(join(work, "Holiday"));
    await page.waitForFunction(`document.querySelectorAll("section.cluster").length > 0 && !document.getElementById("failures").hidden`, { timeout: 90_000 });

    // Assess: the two groups, by their exact ids; the unreadable photo with its reason; the non-photo refused.
    const ids = Object.keys(FOLDER).map(idOf);
    expect(await clustersShown()).toEqual([ids.slice(0, 5).sort(), ids.slice(5).sort()].sort((a, b) => a[0].localeCompare(b[0])));
    const failed = await page.$$eval("#failed li", (items) => items.map((li) => li.textContent));
    expect(failed).toEqual([expect.stringMatching(/^broken: the file's bytes are not a photo.* \(not_an_image\)$/)]);
    const refused = await page.$$eval("#refused li", (items) => items.map((li) => li.textContent));
    expect(refused).toEqual([
      expect.stringMatching(/^notes\.txt: name is not a photo name: .*extension must be one of jpg, jpeg, png, webp, heic, heif, avif/),
    ]);
    expect(await page.$eval("#summary", (p) => p.textContent)).toMatch(/^10 photos · 2 clusters holding 10/);
    await page.screenshot({ path: join(work, "page.png"), fullPage: true });

    // Act: the user drags the threshold to its top (keyboard: End) and waits for the page to follow.
    const before = await clustersShown();
    await page.focus("#threshold");
    await page.keyboard.press("End");
    await page.waitForFunction(`new URLSearchParams(location.search).get("threshold") === "0.99" && document.getElementById("status").textContent === ""`);
    // Assess
    expect(await page.$eval("#threshold-value", (o) => o.textContent)).toBe("0.99");
    const after = await clustersShown();
    expect(after).not.toEqual(before);
    expect(after.every((cluster) => before.some((group) => cluster.every((id) => group.includes(id))))).toBe(true); // split, never merged
    await page.screenshot({ path: join(work, "page-0.99.png"), fullPage: true });

    // Act: the user adds a stored photo again in place of itself, and the unreadable one again. Neither
    // changes the count of stored photos, and the old failure is not this upload's: the page follows
    // the queue until it is empty instead of waiting out its two minutes.
    const again = join(work, "again");
    await mkdir(again);
    await copyFile(join(PHOTOS, `${FOLDER["café ☕.jpg"]}.jpg`), join(again, "café ☕.jpg"));
    await copyFile(join(work, "Holiday/broken.jpg"), join(again, "broken.jpg"));
    const failedAt = await page.$$eval("#failed li", (items) => items.length);
    await (await page.$("#files"))!.uploadFile(join(again, "café ☕.jpg"), join(again, "broken.jpg"));
    await page.waitForFunction(`document.getElementById("status").textContent.startsWith("Adding 2 photos")`);
    // A hang, not a speed: the queue empties within seconds, where an earlier page waited out a full minute.
    await page.waitForFunction(`document.getElementById("status").textContent === ""`, { timeout: 30_000 });
    // Assess
    expect(await page.$eval("#summary", (p) => p.textContent)).toMatch(/^10 photos · /);
    expect(await page.$$eval("#failed li", (items) => items.length)).toBe(failedAt);

    expect((await readFile(join(work, "page.png"))).subarray(1, 4).toString()).toBe("PNG");
    expect(pageErrors).toEqual([]);
    process.stderr.write(`screenshots: ${work}/page.png, page-0.99.png\n`);
  }, 150_000);
});
