/**
 * The dependency rules of the packages (`pnpm check-deps`, run by CI): among the production files
 * (`packages/<name>/src`, tests left out) no import circle, type imports included; core imports no
 * other package; no production file imports benchmark or test code (`bench/`, `test/`). Prints each
 * breach and exits 1, or prints what it checked.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const PACKAGES = join(ROOT, "packages");
const IMPORT = /(?:^|[;\s])(?:import|export)\s(?:[^'"]*?\sfrom\s)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === "node_modules" || name === "fixtures" ? [] : files(path);
    return name.endsWith(".ts") && !name.endsWith(".test.ts") && !name.endsWith(".d.ts") ? [path] : [];
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
console.log(`dependencies: ${production.length} production files, no import circle, core imports no other package, no benchmark or test code imported`);
