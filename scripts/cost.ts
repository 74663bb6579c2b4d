/**
 * What ingesting a million photos costs in AWS (docs/cost.md): `pnpm cost [--stage prod] [--bench <file>] [--json]`.
 *
 * Each line is a figure `pnpm bench --edge` measured per photo (`.bench/edge.jsonl` by default), times
 * a setting of the stage (stacks/stages.ts), times a list price (scripts/prices.json). No measured
 * figure is written here: when the bench moves, the lines move with it.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pollerConcurrency, STAGES, stageSettings } from "../stacks/stages.ts";

const ROOT = resolve(import.meta.dirname, "..");
const argv = process.argv.slice(2);
const option = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const stage = option("--stage") ?? "prod";
// pnpm runs scripts from the repository root: a relative --bench is meant from where it was typed.
const benchFile = resolve(process.env.INIT_CWD ?? process.cwd(), option("--bench") ?? join(ROOT, ".bench/edge.jsonl"));

function fail(message: string): never {
  console.error(`pnpm cost: ${message}`);
  process.exit(1);
}

/** What each bench case must carry; numbers are per photo (medians) unless named otherwise. */
const FIELDS: Record<string, string[]> = {
  edge: [
    ..."format megapixels photos model source_bytes endpoint_bytes_median response_bytes_median".split(" "),
    ..."poller_ms_median endpoint_ms_median poller_log_bytes_per_photo".split(" "),
  ],
  "edge-writer": "model dimension photos batch writer_ms_per_photo efs_bytes_per_photo writer_log_bytes_per_photo".split(" "),
  "edge-endpoint-memory": ["model", "peak_rss_mb"],
};
const TEXT_FIELDS = new Set(["format", "model"]);
type Row = Record<string, unknown>;
type Bench = Record<string, number>;

if (!existsSync(benchFile)) fail(`no bench figures at ${benchFile}: run \`pnpm bench --edge\` first`);
const rows = new Map<string, Row>();
readFileSync(benchFile, "utf8")
  .split("\n")
  .forEach((text, i) => {
    if (!text.trim()) return;
    let row: Row;
    try {
      row = JSON.parse(text);
    } catch {
      fail(`${benchFile}:${i + 1} is not a JSON line`);
    }
    const fields = FIELDS[String(row.case)];
    if (!fields) return; // the bench's other cases
    const name = row.case === "edge" ? `edge ${row.format}` : String(row.case);
    // The S3 wait is optional (not every bench measures it), but checked like the rest when present.
    for (const f of [...fields, ...(row.case === "edge" && "s3_get_ms_median" in row ? ["s3_get_ms_median"] : [])]) {
      const v = row[f];
      const ok = TEXT_FIELDS.has(f) ? typeof v === "string" && v !== "" : typeof v === "number" && Number.isFinite(v) && v >= 0;
      if (!ok) fail(`${benchFile}:${i + 1}: the "${name}" line has no valid "${f}" (${TEXT_FIELDS.has(f) ? "a string" : "a number ≥ 0"})`);
    }
    rows.set(name, row); // a later run of a case replaces an earlier one
  });
const need = (name: string) => rows.get(name) ?? fail(`${benchFile} has no "${name}" line: run \`pnpm bench --edge\` first`);
const FORMATS = ["jpeg", "heic"] as const;
const edges = Object.fromEntries(FORMATS.map((f) => [f, need(`edge ${f}`)])) as Record<(typeof FORMATS)[number], Row>;
const writer = need("edge-writer") as unknown as Bench;
const memory = need("edge-endpoint-memory") as unknown as Bench;

/** Each price per one unit of what it is quoted per; refused unless quoted as this script counts it, with its source. */
const PER: Record<string, number> = { GB: 1, "GB-second": 1, "thousand requests": 1e3, "million requests": 1e6, "million traces": 1e6 };
const prices = JSON.parse(readFileSync(join(ROOT, "scripts/prices.json"), "utf8")) as {
  retrieved: string;
  region: string;
  prices: Record<string, { usd: number; per: string; source: string }>;
};
function price(key: string, per: string): number {
  const p = prices.prices[key];
  if (!p || !(p.usd > 0) || p.per !== per || !/^https:\/\//.test(p.source))
    fail(`scripts/prices.json: "${key}" must be { usd > 0, per: "${per}", source: https URL }`);
  return p.usd / PER[per];
}
const USD = {
  endpoint: price("sagemaker_serverless_compute", "GB-second"),
  dataIn: price("sagemaker_data_in", "GB"),
  dataOut: price("sagemaker_data_out", "GB"),
  lambda: price("lambda_arm64_duration", "GB-second"),
  invocation: price("lambda_requests", "million requests"),
  sqs: price("sqs_standard_requests", "million requests"),
  get: price("s3_standard_get", "thousand requests"),
  put: price("s3_standard_put", "thousand requests"),
  efs: price("efs_elastic_write", "GB"),
  logs: price("cloudwatch_logs_ingestion", "GB"),
  trace: price("xray_traces_recorded", "million traces"),
};

const settings = stageSettings(stage);
const batch = settings.poller.batchSize;
const perCall = Math.min(batch, 10); // SQS receives and deletes at most 10 messages a request
const inFlight = pollerConcurrency(settings.endpoint.maxConcurrency);
const [endpointMb, pollerMb, writerMb] = [settings.endpoint.memoryMb, settings.poller.memoryMb, settings.writer.memoryMb];
// Lambda gives one full vCPU at 1,769 MB and a proportional share below it; the bench's CPU time is a full core's.
const cpuShare = Math.min(1, pollerMb / 1769);
const GIB = 2 ** 30; // AWS bills data by GB of 2^30 bytes
const gb = (mb: number) => mb / 1024;
const r = (x: number, digits = 1) => Number(x.toFixed(digits));
const kB = (bytes: number) => `${r(bytes / 1000)} kB`;

type Line = { key: string; label: string; usd: number; measured: string };
const line = (key: string, label: string, usdPerPhoto: number, measured: string): Line => ({ key, label, usd: usdPerPhoto * 1e6, measured });

/** The poller's billed time per photo: CPU on its share of a core, then waits, one after another (see docs/cost.md). */
function pollerMs(e: Bench, overlapped = false) {
  const waits = (e.s3_get_ms_median ?? 0) + e.endpoint_ms_median;
  return e.poller_ms_median / cpuShare + (overlapped ? waits / inFlight.perInvocation : waits) + writer.writer_ms_per_photo;
}

function costs(e: Bench) {
  const poller = pollerMs(e);
  // One trace per poller invocation (the writer's segment joins it through the Invoke trace header).
  // With the queue full, `invocations` pollers run back to back; X-Ray's default rule keeps 1 a second and 5% of the rest.
  const rate = inFlight.invocations / ((batch * poller) / 1000);
  const sampled = rate <= 1 ? 1 : 0.05 + 0.95 / rate; // (1 + 5% of (rate − 1)) / rate
  const endpointMs = Math.ceil(e.endpoint_ms_median); // billed per request, rounded up to the millisecond
  const sqs = 1 + 2 / perCall;
  const s3Ms = e.s3_get_ms_median; // optional: not every bench measures it
  const lines = [
    line("endpoint_compute", "SageMaker endpoint compute", gb(endpointMb) * (endpointMs / 1000) * USD.endpoint, `${endpointMs} ms billed at ${endpointMb} MB`),
    line("endpoint_data_in", "SageMaker data processed in", (e.endpoint_bytes_median / GIB) * USD.dataIn, `${kB(e.endpoint_bytes_median)} request`),
    line("endpoint_data_out", "SageMaker data processed out", (e.response_bytes_median / GIB) * USD.dataOut, `${kB(e.response_bytes_median)} response`),
    line(
      "poller_duration",
      "poller Lambda duration",
      gb(pollerMb) * (poller / 1000) * USD.lambda,
      `${r(poller)} ms at ${pollerMb} MB arm64: ${r(e.poller_ms_median / cpuShare)} CPU + ${s3Ms === undefined ? "" : `${s3Ms} S3 + `}${e.endpoint_ms_median} endpoint + ${writer.writer_ms_per_photo} writer`,
    ),
    line("poller_requests", "poller Lambda requests", USD.invocation / batch, `1 invocation per ${batch} photos`),
    line(
      "writer_duration",
      "writer Lambda duration",
      gb(writerMb) * (writer.writer_ms_per_photo / 1000) * USD.lambda,
      `${writer.writer_ms_per_photo} ms at ${writerMb} MB arm64`,
    ),
    line("writer_requests", "writer Lambda requests", USD.invocation / batch, `1 invocation per ${batch} photos`),
    line("sqs_requests", "SQS requests", sqs * USD.sqs, `${r(sqs, 2)}: S3's message, 1/${perCall} receive, 1/${perCall} delete`),
    line("s3_get", "S3 GetObject (poller)", USD.get, `1 GET of ${r(e.source_bytes / 1e6, 2)} MB`),
    line("efs_writes", "EFS writes (elastic)", (writer.efs_bytes_per_photo / GIB) * USD.efs, `${kB(writer.efs_bytes_per_photo)} written`),
    line(
      "logs_ingestion",
      "CloudWatch Logs ingestion",
      ((e.poller_log_bytes_per_photo + writer.writer_log_bytes_per_photo) / GIB) * USD.logs,
      `${e.poller_log_bytes_per_photo} B poller + ${writer.writer_log_bytes_per_photo} B writer`,
    ),
    line("xray_traces", "X-Ray traces", (sampled / batch) * USD.trace, `${r(sampled / batch, 4)} traces: ${r(sampled * 100)}% of ${r(rate)} invocations/s`),
  ];
  const total = lines.reduce((sum, l) => sum + l.usd, 0);
  const hours = 1e6 / (rate * batch) / 3600;
  const overlapped = gb(pollerMb) * (pollerMs(e, true) / 1000) * USD.lambda * 1e6;
  return { lines, total, hours, overlapped };
}

const result = Object.fromEntries(FORMATS.map((f) => [f, costs(edges[f] as unknown as Bench)])) as Record<(typeof FORMATS)[number], ReturnType<typeof costs>>;
const uploadPut = USD.put * 1e6;
const model = String(edges.jpeg.model);
const usd = (x: number) => x.toFixed(3);

/** Serverless memory also sets the endpoint's CPU, so a smaller size would change the measured time: a hint, not a figure. */
function endpointNote() {
  const fits = Math.max(1024, Math.ceil(memory.peak_rss_mb / 1024) * 1024);
  if (memory.peak_rss_mb > endpointMb) return `The model server's measured peak (${memory.peak_rss_mb} MB) is above the endpoint's ${endpointMb} MB.`;
  if (fits === endpointMb)
    return `Endpoint memory ${endpointMb} MB is the smallest size that holds the model server's measured peak (${memory.peak_rss_mb} MB).`;
  const at = (f: (typeof FORMATS)[number]) =>
    `$${usd((result[f].lines.find((l) => l.key === "endpoint_compute")!.usd * fits) / endpointMb)} (${f.toUpperCase()})`;
  return `Endpoint memory ${endpointMb} MB; the model server's measured peak is ${memory.peak_rss_mb} MB, which ${fits} MB holds: compute there at the same time would be ${FORMATS.map(at).join(", ")}, but less memory also means less CPU.`;
}

const notes = [
  `Medians of the bench's photos, one delivery each; a photo that fails every delivery is received ${settings.queue.maxReceiveCount} times (queue.maxReceiveCount): at most ${settings.queue.maxReceiveCount} × its total.`,
  `Poller duration counts its waits one after another. With ${inFlight.perInvocation} photos in flight per invocation they overlap, and the line could be as low as ${FORMATS.map((f) => `$${usd(result[f].overlapped)} (${f.toUpperCase()})`).join(", ")}.`,
  `X-Ray: our stacks set no sampling rule, so X-Ray's default applies (1 a second, then 5%), taken with the queue full: a million photos in ${FORMATS.map((f) => `${r(result[f].hours)} h (${f.toUpperCase()})`).join(", ")}. Uploads slower than one poller invocation a second are all traced: up to $${usd((USD.trace * 1e6) / batch)} at full batches.`,
  endpointNote(),
];
if (edges.jpeg.s3_get_ms_median === undefined || edges.heic.s3_get_ms_median === undefined)
  notes.push("The bench did not measure the poller's wait on S3 GetObject: it is not in the poller's duration.");
for (const m of new Set([edges.heic.model, writer.model, memory.model]))
  if (m !== model) notes.push(`The bench lines name different models (${model}, ${m}): rerun \`pnpm bench --edge\`.`);
// Loaded here, not at the top: it brings aws-cdk-lib (2 s), which a refused bench file need not wait for.
const served = (await import("../stacks/model-image.ts")).cloudModel().id;
if (model !== served) notes.push(`The bench ran ${model}; the stage's endpoint serves ${served}: its time, payloads and EFS bytes differ.`);
if (writer.batch !== batch) notes.push(`The writer was measured at batches of ${writer.batch}; the stage's are ${batch}.`);

const usdObject = (c: ReturnType<typeof costs>) => ({
  total: r(c.total, 6),
  ...Object.fromEntries(c.lines.map((l) => [l.key, r(l.usd, 6)])),
});

if (argv.includes("--json")) {
  const formats = Object.fromEntries(
    FORMATS.map((f) => [f, { usd_per_million_photos: usdObject(result[f]), measured: Object.fromEntries(result[f].lines.map((l) => [l.key, l.measured])) }]),
  );
  const { poller, endpoint, writer: writerSettings, queue } = settings;
  console.log(
    JSON.stringify({
      stage,
      region: prices.region,
      prices_retrieved: prices.retrieved,
      bench: benchFile,
      usd_per_million_photos: usdObject(result.jpeg),
      formats,
      outside_ingestion: { s3_upload_put: r(uploadPut, 6) },
      inputs: {
        settings: { poller, endpoint, writer: writerSettings, maxReceiveCount: queue.maxReceiveCount, pollerConcurrency: inFlight },
        bench: { jpeg: edges.jpeg, heic: edges.heic, writer, endpoint_memory: memory },
      },
      notes,
    }),
  );
} else {
  console.log(
    `Cost of ingesting a million photos: stage ${stage}${STAGES[stage] ? "" : " (development settings)"}, ${prices.region} list prices of ${prices.retrieved}`,
  );
  console.log(`Measured: ${benchFile} (${model})`);
  for (const f of FORMATS) {
    const e = edges[f];
    console.log(`\n${f.toUpperCase()} (${e.megapixels} MP, medians of ${e.photos} photos)`);
    console.log("| line | usd per million photos | per photo |\n| --- | ---: | --- |");
    for (const l of result[f].lines) console.log(`| ${l.label} | ${usd(l.usd)} | ${l.measured} |`);
    console.log(`| **total** | **${usd(result[f].total)}** | |`);
  }
  console.log("\nOutside ingestion, not in the totals:");
  console.log(`| S3 upload PUT (the app's presigned POST) | ${usd(uploadPut)} | 1 request |`);
  console.log(`\n${notes.map((n) => `- ${n}`).join("\n")}`);
}
