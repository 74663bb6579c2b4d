/**
 * `pnpm synth --stage prod [-c key=value ...]`: synthesize every stack into cdk.out/ without AWS
 * (handlers bundled by esbuild, images described, not built), run cdk-nag, print the bundle
 * sizes, and exit 1 when an AwsSolutions error is left unsuppressed.
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { nagErrors } from "./nag.ts";
import { synthApp } from "./synth-app.ts";
import { bundleSizes, formatBytes } from "./bundle-sizes.ts";

const { values } = parseArgs({
  options: {
    stage: { type: "string" },
    context: { type: "string", short: "c", multiple: true },
    out: { type: "string", default: "cdk.out" },
    "no-bundle": { type: "boolean", default: false },
  },
});
if (!values.stage) {
  console.error("usage: pnpm synth --stage <stage> [-c modelImageUri=…] [-c jwtIssuer=… -c jwtAudience=…] [--out cdk.out]");
  process.exit(2);
}
// The same context `sst deploy` reads (cdk.context.json, then cdk.json's "context"), then -c.
const context: Record<string, string> = { ...readJson("cdk.context.json"), ...readJson("cdk.json").context };
for (const pair of values.context ?? []) {
  const at = pair.indexOf("=");
  if (at < 1) {
    console.error(`-c expects key=value, got "${pair}"`);
    process.exit(2);
  }
  context[pair.slice(0, at)] = pair.slice(at + 1);
}

function readJson(file: string): Record<string, any> {
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
}

const outdir = path.resolve(values.out!);
fs.rmSync(outdir, { recursive: true, force: true });
const started = Date.now();
const { assembly } = await synthApp({ stage: values.stage, bundle: !values["no-bundle"], outdir, context });
const seconds = ((Date.now() - started) / 1000).toFixed(1);

console.log(`\nSynthesized stage "${values.stage}" in ${seconds}s → ${path.relative(process.cwd(), outdir)}/`);
for (const stack of assembly.stacks) {
  const resources = Object.keys((stack.template as { Resources?: object }).Resources ?? {}).length;
  console.log(`  ${stack.templateFile}  (${resources} resources)`);
}
if (!values["no-bundle"]) {
  console.log("\nLambda bundles (unzipped; zipped ≈ deflated):");
  for (const b of bundleSizes(assembly)) {
    console.log(`  ${b.logicalId.padEnd(28)} ${b.handler.padEnd(40)} ${formatBytes(b.bytes).padStart(9)}  zipped ≈ ${formatBytes(b.deflated)}`);
  }
}

const warnings = assembly.stacks.flatMap((s) => s.messages.filter((m) => m.level === "warning"));
const errors = nagErrors(assembly);
console.log(`\ncdk-nag AwsSolutions: ${errors.length} unsuppressed errors, ${warnings.length} warnings`);
for (const w of warnings) console.log(`  warning ${w.id}: ${String(w.entry.data).split("\n")[0]}`);
for (const e of errors) console.error(`  ERROR ${e.path}: ${e.message.split("\n")[0]}`);
process.exit(errors.length ? 1 : 0);
