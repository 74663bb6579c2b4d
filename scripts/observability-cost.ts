/**
 * What observability costs the Lambdas (docs/observability.md): `pnpm observability-cost [--runs N]`.
 *
 * 1. Bundles: each handler bundled as `sst deploy` bundles it (SST's own esbuild and options), in
 *    four variants: `before` (our tracing module replaced by a no-op, i.e. no Powertools), `tracer`
 *    (as shipped), and `+logger` / `+metrics` (as shipped plus one Powertools Logger or Metrics
 *    instance, what adopting it would add). Bytes, and deflated bytes (about the zip Lambda gets).
 * 2. Module load time, the cold-start proxy: a fresh `node` process per run imports the bundle and
 *    prints how long the import took, with Lambda's environment variables set so the Tracer takes
 *    its Lambda path. Runs are interleaved across variants; medians (min–max) are printed.
 * 3. `--emission`: the per-photo cost of the EMF metrics on the writer's path (writeEvents of a
 *    10-photo batch into a store of 2,000, with metrics written to /dev/null vs none) and on the
 *    API's (a warm GET clusters), interleaved, medians.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { deflateRawSync } from "node:zlib";
import { formatBytes } from "../stacks/bundle-sizes.ts";

const ROOT = resolve(import.meta.dirname, "..");
const FUNCTIONS = join(ROOT, "packages/functions");
const argv = process.argv.slice(2);
const runs = Number(argv[argv.indexOf("--runs") + 1]) || 9;

type Esbuild = { build(options: Record<string, unknown>): Promise<unknown> };
const esbuild = createRequire(createRequire(join(ROOT, "package.json")).resolve("sst/package.json"))("esbuild") as Esbuild;

const HANDLERS = ["poller", "writer", "api"] as const;
const VARIANTS = ["before", "tracer", "+logger", "+metrics"] as const;
type Variant = (typeof VARIANTS)[number];

const NO_TRACING = `export const traceClient = (c) => c; export const traced = (_n, task) => task(); export const traceFields = () => ({}); export const withInvocation = (h) => h;`;
const ADDED: Partial<Record<Variant, string>> = {
  "+logger": `import { Logger } from "@aws-lambda-powertools/logger"; new Logger({ serviceName: "bench" }).info("loaded");`,
  "+metrics": `import { Metrics } from "@aws-lambda-powertools/metrics"; new Metrics({ namespace: "bench", serviceName: "bench" });`,
};

/** Each package alone, as a handler would start it, against an empty module. */
const ALONE: Record<string, string> = {
  "(empty module)": "",
  tracer: `import { Tracer } from "@aws-lambda-powertools/tracer"; new Tracer({ serviceName: "bench", captureHTTPsRequests: false });`,
  logger: ADDED["+logger"]!,
  metrics: ADDED["+metrics"]!,
};

/** SST v2's esbuild options for an ESM handler (sst/runtime/handlers/node.js), minified as stacks/bundling.ts asks. */
async function bundle(handler: string | null, variant: Variant | string, out: string): Promise<string> {
  const outfile = join(out, variant, `${handler ?? "alone"}.mjs`);
  const entry = handler ? `export * from ${JSON.stringify(join(FUNCTIONS, "src", `${handler}.ts`))};\n${ADDED[variant as Variant] ?? ""}` : ALONE[variant];
  await esbuild.build({
    stdin: { contents: entry, resolveDir: FUNCTIONS, loader: "ts", sourcefile: "entry.ts" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "esnext",
    mainFields: ["module", "main"],
    keepNames: true,
    minify: true,
    external: ["sharp"],
    outfile,
    logLevel: "silent",
    banner: {
      js: `import { createRequire as topLevelCreateRequire } from 'module';\nconst require = topLevelCreateRequire(import.meta.url);\nimport { fileURLToPath as topLevelFileUrlToPath, URL as topLevelURL } from "url"\nconst __dirname = topLevelFileUrlToPath(new topLevelURL(".", import.meta.url))`,
    },
    plugins:
      variant === "before"
        ? [
            {
              name: "no-tracing",
              setup(build: {
                onResolve: (options: object, callback: (args: { path: string }) => object) => void;
                onLoad: (options: object, callback: () => object) => void;
              }) {
                build.onResolve({ filter: /\/tracing\.ts$/ }, (args: { path: string }) => ({ path: args.path, namespace: "no-tracing" }));
                build.onLoad({ filter: /.*/, namespace: "no-tracing" }, () => ({ contents: NO_TRACING, loader: "js" }));
              },
            },
          ]
        : [],
  });
  return outfile;
}

/** One fresh process: milliseconds to import the bundle, wall-clock and CPU (user + system, less disturbed by other processes). */
function loadMs(file: string, env: NodeJS.ProcessEnv): { wall: number; cpu: number } {
  const script = `const t = performance.now(), c = process.cpuUsage(); await import(${JSON.stringify(`file://${file}`)}); const u = process.cpuUsage(c); console.log(JSON.stringify({ wall: performance.now() - t, cpu: (u.user + u.system) / 1000 }));`;
  const stdout = execFileSync(process.execPath, ["--input-type=module", "-e", script], { env, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const round = (x: number) => Math.round(x * 10) / 10;

async function bundlesAndLoadTimes() {
  const out = mkdtempSync(join(tmpdir(), "observability-cost-"));
  const dataDir = join(out, "data");
  mkdirSync(dataDir);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    // Lambda's own variables: the Tracer is on and xray-sdk-core starts in its Lambda mode.
    AWS_EXECUTION_ENV: "AWS_Lambda_nodejs24.x",
    AWS_REGION: "us-east-1",
    AWS_LAMBDA_FUNCTION_NAME: "bench",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "1024",
    LAMBDA_TASK_ROOT: out,
    _X_AMZN_TRACE_ID: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    AWS_ACCESS_KEY_ID: "x",
    AWS_SECRET_ACCESS_KEY: "x",
    // What each handler's config requires.
    DATA_DIR: dataDir,
    MODEL_ID: "mobilenetv2-12-int8",
    BUCKET_NAME: "b",
    ENDPOINT_NAME: "e",
    WRITER_FUNCTION_NAME: "w",
    JWT_ISSUER: "https://issuer.example",
    JWT_AUDIENCE: "a",
    PHOTOS_BUCKET: "b",
    METRICS_NAMESPACE: "photo-clusters/bench",
  };
  try {
    const files = new Map<string, string>();
    for (const h of HANDLERS) for (const v of VARIANTS) files.set(`${h}/${v}`, await bundle(h, v, out));
    for (const name of Object.keys(ALONE)) files.set(`alone/${name}`, await bundle(null, name, out));
    const wall = new Map<string, number[]>([...files.keys()].map((k) => [k, []]));
    const cpu = new Map<string, number[]>([...files.keys()].map((k) => [k, []]));
    for (const k of files.keys()) loadMs(files.get(k)!, env); // warm the page cache, not counted
    for (let r = 0; r < runs; r++) {
      for (const [k, file] of files) {
        const t = loadMs(file, env);
        wall.get(k)!.push(t.wall);
        cpu.get(k)!.push(t.cpu);
      }
    }
    console.log(`bundles and module load time (a fresh node ${process.version} per run, ${runs} runs interleaved; medians, wall min–max)`);
    console.log("`added`: tracer against before; +logger and +metrics against tracer");
    console.log("| handler | variant | bundle | deflated | load ms (wall) | load ms (CPU) | added |");
    console.log("| --- | --- | --- | --- | --- | --- | --- |");
    const signed = (x: number) => `${x >= 0 ? "+" : ""}${round(x)}`;
    console.log("| package alone | | | | | | against the empty module |");
    for (const name of Object.keys(ALONE)) {
      const k = `alone/${name}`;
      const data = readFileSync(files.get(k)!);
      const [w, c] = [wall.get(k)!, cpu.get(k)!];
      const added =
        name === "(empty module)"
          ? ""
          : `${signed(median(w) - median(wall.get("alone/(empty module)")!))} ms wall, ${signed(median(c) - median(cpu.get("alone/(empty module)")!))} ms CPU`;
      console.log(
        `| ${name} | | ${formatBytes(data.length)} | ${formatBytes(deflateRawSync(data, { level: 9 }).length)} | ${round(median(w))} (${round(Math.min(...w))}–${round(Math.max(...w))}) | ${round(median(c))} | ${added} |`,
      );
    }
    for (const h of HANDLERS) {
      for (const v of VARIANTS) {
        const data = readFileSync(files.get(`${h}/${v}`)!);
        const ref = v === "before" ? undefined : v === "tracer" ? `${h}/before` : `${h}/tracer`;
        const w = wall.get(`${h}/${v}`)!;
        const c = cpu.get(`${h}/${v}`)!;
        const added = ref
          ? `${signed((data.length - statSync(files.get(ref)!).size) / 1000)} kB, ${signed(median(w) - median(wall.get(ref)!))} ms wall, ${signed(median(c) - median(cpu.get(ref)!))} ms CPU`
          : "";
        console.log(
          `| ${h} | ${v} | ${formatBytes(data.length)} | ${formatBytes(deflateRawSync(data, { level: 9 }).length)} | ${round(median(w))} (${round(Math.min(...w))}–${round(Math.max(...w))}) | ${round(median(c))} | ${added} |`,
        );
      }
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

async function emission() {
  const { benchEmission } = await import("../packages/functions/bench/bench-emission.ts");
  const devNull = openSync("/dev/null", "w");
  const result = await benchEmission({ runs: Math.max(runs, 51), write: (line) => void writeSync(devNull, `${line}\n`) });
  console.log(`\nmetric emission (in-process, interleaved, ${result.runs} runs each; EMF lines written to /dev/null)`);
  for (const c of result.cases)
    console.log(`${c.case}: ${c.without_ms} ms without metrics, ${c.with_ms} ms with (${c.ratio}×), ${c.lines} EMF line(s) per ${c.unit}`);
  console.log(
    `the metrics' own work (records, one flush, one write(2) to /dev/null; median of 21 × 1000): ${result.ownMsPerBatch} ms a writer batch of 10, ${result.ownMsPerRequest} ms a request`,
  );
}

if (!argv.includes("--emission-only")) await bundlesAndLoadTimes();
if (argv.includes("--emission") || argv.includes("--emission-only")) await emission();
