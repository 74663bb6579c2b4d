import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stageSettings } from "../stacks/stages.ts";

const ROOT = resolve(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "cost-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LINES = [
  "endpoint_compute",
  "endpoint_data_in",
  "endpoint_data_out",
  "poller_duration",
  "poller_requests",
  "writer_duration",
  "writer_requests",
  "sqs_requests",
  "s3_get",
  "efs_writes",
  "logs_ingestion",
  "xray_traces",
];

/** Plausible `pnpm bench --edge` figures (a 12 MP JPEG decodes in ~14 ms, a HEIC in ~290 ms), with changes. */
function benchFile(name: string, change: (rows: Record<string, any>[]) => void = () => {}): string {
  const model = "mobilenetv2-12-int8";
  const edge = { case: "edge", megapixels: 12, photos: 20, model, endpoint_ms_median: 9.5, response_bytes_median: 27000 };
  const rows: Record<string, any>[] = [
    { ...edge, format: "jpeg", source_bytes: 3100000, endpoint_bytes_median: 24000, poller_ms_median: 14.2, poller_log_bytes_per_photo: 600 },
    { ...edge, format: "heic", source_bytes: 2400000, endpoint_bytes_median: 23000, poller_ms_median: 290, poller_log_bytes_per_photo: 650 },
    {
      case: "edge-writer",
      model,
      dimension: 1280,
      photos: 200,
      batch: 10,
      writer_ms_per_photo: 1.3,
      efs_bytes_per_photo: 5300,
      writer_log_bytes_per_photo: 400,
    },
    { case: "edge-endpoint-memory", model, peak_rss_mb: 180 },
  ];
  change(rows);
  const file = join(dir, `${name}.jsonl`);
  writeFileSync(file, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
  return file;
}

let plainOut: Promise<any> | undefined;
/** The unchanged figures' JSON, run once for the tests that compare against it. */
const plain = () => (plainOut ??= costJson("--bench", benchFile("plain")));

type Run = { code: number; stdout: string; stderr: string };
function run(command: string, args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(command, args, { cwd: ROOT, env: { ...process.env, INIT_CWD: ROOT } }, (error, stdout, stderr) =>
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}
const cost = (...args: string[]) => run(process.execPath, ["--import", "tsx", "scripts/cost.ts", ...args]);
async function costJson(...args: string[]) {
  const result = await cost("--json", ...args);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

describe("pnpm cost", () => {
  it("prices a million JPEG and HEIC photos from the bench's figures, each total the sum of its lines", async () => {
    const out = await plain();
    expect(out.stage).toBe("prod");
    expect(out.prices_retrieved).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(out.usd_per_million_photos).toEqual(out.formats.jpeg.usd_per_million_photos);
    for (const format of ["jpeg", "heic"]) {
      const { total, ...lines } = out.formats[format].usd_per_million_photos;
      expect(Object.keys(lines).sort()).toEqual([...LINES].sort());
      for (const usd of Object.values(lines)) expect(usd).toBeGreaterThan(0);
      const sum = Object.values(lines as Record<string, number>).reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - total)).toBeLessThan(1e-5);
    }
    // 24,000 bytes a photo at the data-processed price, per million photos.
    const prices = JSON.parse(readFileSync(join(ROOT, "scripts/prices.json"), "utf8")).prices;
    expect(out.formats.jpeg.usd_per_million_photos.endpoint_data_in).toBeCloseTo((24000 / 2 ** 30) * prices.sagemaker_data_in.usd * 1e6, 5);
    // HEIC's slower decode shows in the poller's line; the upload PUT is reported but outside the total.
    expect(out.formats.heic.usd_per_million_photos.poller_duration).toBeGreaterThan(5 * out.formats.jpeg.usd_per_million_photos.poller_duration);
    expect(out.outside_ingestion.s3_upload_put).toBeCloseTo(prices.s3_standard_put.usd * 1000, 6);
  });

  it("moves a line in proportion when its bench figure moves, and only that format's", async () => {
    const doubled = benchFile("doubled", (rows) => {
      rows[0].endpoint_bytes_median *= 2;
      rows[2].efs_bytes_per_photo *= 2;
    });
    const [before, after] = await Promise.all([plain(), costJson("--bench", doubled)]);
    const [b, a] = [before.formats, after.formats];
    expect(a.jpeg.usd_per_million_photos.endpoint_data_in / b.jpeg.usd_per_million_photos.endpoint_data_in).toBeCloseTo(2, 4);
    expect(a.heic.usd_per_million_photos.endpoint_data_in).toBe(b.heic.usd_per_million_photos.endpoint_data_in);
    expect(a.jpeg.usd_per_million_photos.endpoint_data_out).toBe(b.jpeg.usd_per_million_photos.endpoint_data_out);
    for (const f of ["jpeg", "heic"]) expect(a[f].usd_per_million_photos.efs_writes / b[f].usd_per_million_photos.efs_writes).toBeCloseTo(2, 4);
    expect(after.usd_per_million_photos.total).toBeGreaterThan(before.usd_per_million_photos.total);
  });

  it("takes memory sizes from the stage named", async () => {
    const [prod, dev] = [stageSettings("prod"), stageSettings("alice")];
    expect(dev.writer.memoryMb).not.toBe(prod.writer.memoryMb);
    const [p, d] = (await Promise.all([plain(), costJson("--bench", benchFile("plain"), "--stage", "alice")])).map((out) => out.formats.jpeg);
    const ratio = (line: string) => d.usd_per_million_photos[line] / p.usd_per_million_photos[line];
    expect(ratio("endpoint_compute")).toBeCloseTo(dev.endpoint.memoryMb / prod.endpoint.memoryMb, 4);
    expect(ratio("writer_duration")).toBeCloseTo(dev.writer.memoryMb / prod.writer.memoryMb, 4);
  });

  it("prints a table per format whose totals are the JSON's", async () => {
    const [text, json] = await Promise.all([cost("--bench", benchFile("plain")), plain()]);
    expect(text.code).toBe(0);
    const totals = [...text.stdout.matchAll(/^\| \*\*total\*\* \| \*\*([\d.]+)\*\*/gm)].map((m) => Number(m[1]));
    expect(text.stdout).toMatch(/^JPEG /m);
    expect(text.stdout).toMatch(/^HEIC /m);
    expect(totals).toEqual([json.formats.jpeg, json.formats.heic].map((f) => Number(f.usd_per_million_photos.total.toFixed(3))));
  });

  it("exits 1 telling to run the bench when its file is missing (through `pnpm cost`)", async () => {
    const result = await run("pnpm", ["--silent", "cost", "--bench", join(dir, "none.jsonl")]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("run `pnpm bench --edge` first");
    expect(result.stdout).toBe("");
  });

  it("names the field or line the bench file lacks", async () => {
    const noField = await cost(
      "--json",
      "--bench",
      benchFile("no-field", (rows) => delete rows[1].response_bytes_median),
    );
    expect(noField.code).toBe(1);
    expect(noField.stderr).toMatch(/"edge heic" line has no valid "response_bytes_median"/);
    const noWriter = await cost(
      "--json",
      "--bench",
      benchFile("no-writer", (rows) => rows.splice(2, 1)),
    );
    expect(noWriter.code).toBe(1);
    expect(noWriter.stderr).toContain('no "edge-writer" line');
    expect(noWriter.stdout).toBe("");
  });

  it("uses dated prices, each with the AWS page it comes from", () => {
    const file = JSON.parse(readFileSync(join(ROOT, "scripts/prices.json"), "utf8"));
    expect(file.retrieved).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(Number.isNaN(Date.parse(file.retrieved))).toBe(false);
    expect(file.region).toBe("us-east-1");
    const prices = Object.entries(file.prices as Record<string, { usd: number; per: string; source: string }>);
    expect(prices.length).toBeGreaterThanOrEqual(11);
    for (const [name, p] of prices)
      expect({ name, usd: p.usd > 0, per: typeof p.per, source: p.source }).toMatchObject({
        name,
        usd: true,
        per: "string",
        source: expect.stringMatching(/^https:\/\/aws\.amazon\.com\/[a-z0-9-]+\/pricing\/$/),
      });
  });
});
