import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { promisify } from "node:util";
import type { FunctionProps } from "sst/constructs";

/** How every handler is bundled: minified ESM, names kept, no source map shipped. */
export const NODEJS: NonNullable<FunctionProps["nodejs"]> = { format: "esm", minify: true, sourcemap: false };

/**
 * Bundle options for a handler that imports native packages (the poller: sharp). They stay out
 * of the esbuild bundle and are installed next to it for Lambda's OS and CPU, at the version the
 * handler resolves locally.
 *
 * Why not SST's own handling: for sharp it force-installs sharp@0.32.6, whose install script
 * downloads libvips from GitHub and whose API is older than ours. sharp ≥ 0.33 ships its binaries
 * as npm packages, so `npm install --os/--cpu/--libc` needs nothing but the npm registry.
 */
export function withNativePackages(handler: string, packages: string[], architecture: "arm_64" | "x86_64"): Pick<FunctionProps, "nodejs" | "hooks"> {
  return {
    nodejs: { ...NODEJS, esbuild: { external: packages } },
    hooks: {
      async afterBuild(_props, out) {
        const load = createRequire(path.resolve(handler));
        const dependencies = Object.fromEntries(packages.map((name) => [name, load(`${name}/package.json`).version as string]));
        await fs.writeFile(path.join(out, "package.json"), JSON.stringify({ private: true, dependencies }, null, 2));
        const cpu = architecture === "arm_64" ? "arm64" : "x64";
        await promisify(execFile)(
          "npm",
          ["install", "--omit=dev", "--no-audit", "--no-fund", "--no-package-lock", "--prefer-offline", "--os=linux", `--cpu=${cpu}`, "--libc=glibc"],
          { cwd: out, env: { ...process.env, npm_config_ignore_scripts: "true" } },
        );
        // npm's record of the install is not code: keep it out of the zip.
        await fs.rm(path.join(out, "node_modules", ".package-lock.json"), { force: true });
        await fs.rm(path.join(out, "package-lock.json"), { force: true });
      },
    },
  };
}
