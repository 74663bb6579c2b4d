/**
 * The page as a review tool, in a real browser (Debian's chromium-headless-shell through
 * puppeteer-core) against the whole local runtime: a burst of one scene is shown with its best shot
 * marked and why, its identical copies marked, each photo's capture time and facts; "Keep the best,
 * delete the rest" deletes the others through the API, and the page then shows the kept photo
 * alone. Screenshots before and after are kept in the test's temp folder.
 */
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemTool } from "@photo-clusters/core/test/system-tool";
import { PHOTOS, startTestRuntime, type TestRuntime } from "./test-runtime.ts";

const BROWSER = process.env.CHROMIUM ?? systemTool("chromium-headless-shell", "apt-get install chromium-headless-shell, or CHROMIUM=<path to a Chromium>");

describe.skipIf(!BROWSER)("the page as a review tool, in a browser", () => {
  let runtime: TestRuntime;
  let work: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const dialogs: string[] = [];

  beforeAll(async () => {
    // Kept after the test: it holds the screenshots.
    work = await mkdtemp(join(tmpdir(), "page-review-"));
    runtime = await startTestRuntime();
    browser = await puppeteer.launch({ executablePath: BROWSER!, args: ["--no-sandbox", "--disable-gpu"] });
    page = await browser.newPage();
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    page.on("dialog", async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.accept();
    });
    await page.setViewport({ width: 1200, height: 900 });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
  });

  const objectExists = (key: string) =>
    runtime.emulator.s3.send(new HeadObjectCommand({ Bucket: "photos", Key: key })).then(
      () => true,
      (error: { name?: string }) => (error.name === "NotFound" ? false : Promise.reject(error)),
    );

  it("marks the best shot and the duplicates, and keeps the best while deleting the rest", async () => {
    // Prepare: a burst of one scene as a phone takes it, and an identical copy of its first frame
    const scene = await readFile(join(PHOTOS, "09fe9adb.jpg"));
    const taken = (second: number) => ({ IFD0: { Make: "Phone" }, IFD2: { DateTimeOriginal: `2024:07:01 10:00:0${second}`, OffsetTimeOriginal: "+01:00" } });
    const sharpFrame = await sharp(scene).withExif(taken(1)).jpeg({ quality: 92 }).toBuffer();
    const burst: Record<string, Buffer> = {
      "burst/IMG_0001.JPG": await sharp(scene).blur(5).withExif(taken(0)).jpeg({ quality: 92 }).toBuffer(),
      "burst/IMG_0002.JPG": sharpFrame,
      "burst/IMG_0002 copy.JPG": sharpFrame,
      "burst/IMG_0003.JPG": await sharp(scene).linear(1.8, 0).withExif(taken(2)).jpeg({ quality: 92 }).toBuffer(),
    };
    for (const [name, body] of Object.entries(burst))
      await runtime.emulator.s3.send(new PutObjectCommand({ Bucket: "photos", Key: `users/quinn/${name}`, Body: body, ContentType: "image/jpeg" }));

    // Act 1: the user opens the page once the four are stored
    for (let i = 0; i < 150; i++) {
      const state = await (
        await fetch(`${runtime.apiUrl}/users/quinn/status`, { headers: { Authorization: `Bearer ${await runtime.auth.issueDevToken("quinn")}` } })
      ).json();
      if ((state as { stored: number }).stored === 4) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await page.goto(`${runtime.apiUrl}/?user=quinn&threshold=0.5`);
    await page.waitForSelector("section.cluster figure.best");

    // Assess 1: the sharp, well-exposed frame is suggested, with why; its copy is marked the same; times show
    const card = await page.$eval("section.cluster", (c) => ({
      best: c.querySelector("figure.best img")?.getAttribute("alt"),
      why: c.querySelector(".review .why")?.textContent,
      same: [...c.querySelectorAll("figure")].filter((f) => f.querySelector(".tag.duplicate")).map((f) => f.querySelector("img")?.getAttribute("alt")),
      order: [...c.querySelectorAll("figure img")].map((img) => img.getAttribute("alt")),
      times: [...c.querySelectorAll("figure details summary")].map((s) => s.textContent),
      span: c.querySelector("h2 .taken")?.textContent,
      facts: c.querySelector("figure.best a")?.getAttribute("title"),
    }));
    expect(card.best).toBe("burst/IMG_0002");
    expect(card.why).toMatch(/^Suggested: burst\/IMG_0002 \(.*most pixels.*\)$/);
    expect(card.same).toEqual(expect.arrayContaining(["burst/IMG_0002", "burst/IMG_0002 copy"]));
    expect(card.order).toEqual(["burst/IMG_0001", "burst/IMG_0002", "burst/IMG_0002 copy", "burst/IMG_0003"]);
    expect(card.times).toEqual(["2024-07-01 10:00:00", "2024-07-01 10:00:01", "2024-07-01 10:00:01", "2024-07-01 10:00:02"]);
    expect(card.span).toBe("2024-07-01 10:00:00 – 2024-07-01 10:00:02");
    expect(card.facts).toMatch(/1024×768 jpeg q92/);
    await page.screenshot({ path: join(work, "review-before.png"), fullPage: true });

    // Act 2: keep the best, delete the rest, and confirm
    await page.click("section.cluster button.keep-best");
    await page.waitForFunction(
      `document.querySelectorAll("section.cluster").length === 0 && document.getElementById("summary").textContent.startsWith("1 photo ·")`,
      {
        timeout: 60_000,
      },
    );
    await page.screenshot({ path: join(work, "review-after.png"), fullPage: true });

    // Assess 2: asked first; the cluster is gone and the kept photo is alone; its objects are gone from S3
    expect(dialogs).toEqual(["Keep burst/IMG_0002 and delete the other 3 photos of this cluster?"]);
    expect(await page.$eval("#summary", (s) => s.textContent)).toMatch(/^1 photo · 0 clusters holding 0 · 1 without a match/);
    expect(await objectExists("users/quinn/burst/IMG_0002.JPG")).toBe(true);
    for (const gone of ["burst/IMG_0001.JPG", "burst/IMG_0002 copy.JPG", "burst/IMG_0003.JPG"]) expect(await objectExists(`users/quinn/${gone}`)).toBe(false);
    expect(pageErrors).toEqual([]);
    process.stdout.write(`screenshots: ${join(work, "review-before.png")}, review-after.png\n`);
  }, 120_000);
});
