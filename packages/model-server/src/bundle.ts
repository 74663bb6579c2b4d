/**
 * Bundles the container entrypoint into dist/main.mjs (with @photo-clusters/core and
 * protobufjs inlined; onnxruntime-node and sharp stay external because they ship native
 * binaries) and writes dist/package.json listing those two. The Docker build context is
 * this package's directory, which does not hold core: run this before building the image.
 *
 *   pnpm --filter @photo-clusters/model-server bundle     (or call bundleModelServer())
 *
 * esbuild comes from sst's dependencies, which the workspace already installs.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const EXTERNAL = ["onnxruntime-node", "sharp"] as const;

interface Esbuild {
  buildSync(options: Record<string, unknown>): { errors: unknown[]; warnings: unknown[] };
}

function loadEsbuild(): Esbuild {
  const fromRoot = createRequire(join(packageDir, "../../package.json"));
  const sst = fromRoot.resolve("sst/package.json");
  return createRequire(sst)("esbuild") as Esbuild;
}

/** Synchronous so CDK code can call it right before declaring the DockerImageAsset. */
export function bundleModelServer(outDir = join(packageDir, "dist")): { entry: string; packageJson: string } {
  mkdirSync(outDir, { recursive: true });
  const entry = join(outDir, "main.mjs");
  loadEsbuild().buildSync({
    entryPoints: [join(packageDir, "src/main.ts")],
    outfile: entry,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: [...EXTERNAL],
    // CommonJS dependencies inlined into an ES module still call require().
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: "warning",
  });
  const own = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as { dependencies: Record<string, string> };
  const dependencies = Object.fromEntries(EXTERNAL.map((name) => [name, own.dependencies[name]]));
  const packageJson = join(outDir, "package.json");
  writeFileSync(packageJson, `${JSON.stringify({ name: "photo-clusters-model-server", private: true, type: "module", dependencies }, null, 2)}\n`);
  return { entry, packageJson };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { entry } = bundleModelServer(process.argv[2] ? resolve(process.argv[2]) : undefined);
  console.log(`wrote ${entry}`);
}
