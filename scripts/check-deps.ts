/**
 * The dependency rules of the packages (`pnpm check-deps`, run by CI): among the production files
 * (`packages/<name>/src`, tests left out) no import circle, type imports included; core imports no
 * other package; no production file imports benchmark or test code (`bench/`, `test/`); no file
 * anywhere imports a package by a path its package.json does not export (its `index.ts`, and named
 * test or benchmark helpers). Prints each breach and exits 1, or prints what it checked.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const PACKAGES = join(ROOT, "packages");
const IMPORT = /(?:^|[;\s])(?:import|export)\s(?:[^'"]*?\sfrom\s)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

function files(dir: string, tests = false): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === "node_modules" || name === "fixtures" || name.startsWith(".") ? [] : files(path, tests);
    return name.endsWith(".ts") && (tests || !name.endsWith(".test.ts")) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Where an import leads inside the repository, or null for a third-party module. */
function target(from: string, spec: string): string | null {
  if (spec.startsWith(".")) return resolve(dirname(from), spec);
  const own = /^@photo-clusters\/([^/]+)(?:\/(.+))?$/.exec(spec);
  if (!own) return null;
  const [, pkg, sub] = own;
  if (!sub) return join(PACKAGES, pkg!, "src/index.ts");
  return /^(bench|test)\//.test(sub) ? join(PACKAGES, pkg!, `${sub}.ts`) : join(PACKAGES, pkg!, "src", `${sub}.ts`);
}

/** Each package's exported subpaths ("." for its index), from its package.json. */
const exported = new Map(
  readdirSync(PACKAGES).map((pkg) => {
    const manifest = JSON.parse(readFileSync(join(PACKAGES, pkg, "package.json"), "utf8")) as { exports?: Record<string, string> };
    return [pkg, new Set(Object.keys(manifest.exports ?? {}))];
  }),
);

/** A specifier of one of our packages that its package.json does not export, or null. */
function internal(spec: string): string | null {
  const own = /^@photo-clusters\/([^/]+)(?:\/(.+))?$/.exec(spec);
  if (!own) return null;
  const [, pkg, sub] = own;
  return exported.get(pkg!)?.has(sub ? `./${sub}` : ".") ? null : spec;
}

const production = readdirSync(PACKAGES).flatMap((pkg) => {
  const src = join(PACKAGES, pkg, "src");
  return statSync(src, { throwIfNoEntry: false })?.isDirectory() ? files(src) : [];
});
const edges = new Map<string, string[]>();
const problems: string[] = [];
const name = (path: string) => relative(ROOT, path);
for (const file of production) {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = (m[1] ?? m[2])!;
    const to = target(file, spec);
    if (!to) continue;
    if (/\/packages\/[^/]+\/(bench|test)\//.test(to)) problems.push(`${name(file)} imports benchmark or test code: ${spec}`);
    if (name(file).startsWith("packages/core/") && /^@photo-clusters\/(?!core\b)/.test(spec))
      problems.push(`${name(file)}: core imports another package: ${spec}`);
    out.push(to);
  }
  edges.set(file, out);
}

// Every file, tests and benchmarks included, reaches other packages through what they export.
const everywhere = ["packages", "scripts", "stacks"].flatMap((dir) => files(join(ROOT, dir), true));
for (const file of everywhere)
  for (const m of readFileSync(file, "utf8").matchAll(IMPORT)) {
    const spec = internal((m[1] ?? m[2])!);
    if (spec) problems.push(`${name(file)} imports what its package does not export: ${spec}`);
  }

// Circles: a depth-first walk, each circle reported once from its first file.
const state = new Map<string, "open" | "done">();
const stack: string[] = [];
function walk(file: string): void {
  state.set(file, "open");
  stack.push(file);
  for (const to of edges.get(file) ?? []) {
    if (state.get(to) === "open") problems.push(`import circle: ${[...stack.slice(stack.indexOf(to)), to].map(name).join(" → ")}`);
    else if (!state.has(to) && edges.has(to)) walk(to);
  }
  stack.pop();
  state.set(file, "done");
}
for (const file of production) if (!state.has(file)) walk(file);

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
console.log(
  `dependencies: ${production.length} production files, no import circle, core imports no other package, no benchmark or test code imported; ${everywhere.length} files import other packages only by what they export`,
);
