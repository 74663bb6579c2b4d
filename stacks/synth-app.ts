import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Aws } from "aws-cdk-lib";
import type { CloudAssembly } from "aws-cdk-lib/cx-api";
import { App } from "sst/constructs";
import { useFunctions } from "sst/constructs/Function.js";
import { initProject, useProject } from "sst/project.js";
import { useRuntimeHandlers } from "sst/runtime/handlers.js";

export interface SynthOptions {
  stage: string;
  /** Bundle the handlers with esbuild, as `sst deploy` does; false writes a stub per function. */
  bundle: boolean;
  /** Where the cloud assembly goes; a temporary directory when absent. */
  outdir?: string;
  /** CDK context values, e.g. { modelImageUri } or { jwtIssuer, jwtAudience }. */
  context?: Record<string, string>;
}

/**
 * Synthesize the app in-process, the way `sst deploy` does but without AWS: no credentials, no
 * bootstrap lookups, no Docker (image assets are only described), the account left as
 * `${AWS::AccountId}`. Returns the App (for `getStack`) and the cloud assembly.
 */
export async function synthApp(options: SynthOptions): Promise<{ app: App; assembly: CloudAssembly }> {
  // SST reads NODE_ENV=test as "no AWS here": App.finish() then skips the bootstrap-bucket lookup.
  process.env.NODE_ENV = "test";
  await initProject({ stage: options.stage });
  const project = useProject();
  // SST keeps generated types and function builds under <root>/.sst, shared by every process in
  // this checkout; a test run and a `pnpm synth` at once would overwrite each other's builds.
  // Each process gets its own directory instead (the assets are copied into the outdir anyway).
  project.paths.out = workDir();
  project.paths.artifacts = path.join(project.paths.out, "artifacts");
  const { config } = project;
  const restore = options.bundle ? () => {} : stubBundling();
  try {
    const app = new App(
      { mode: "deploy", stage: config.stage, name: config.name, region: config.region, account: Aws.ACCOUNT_ID },
      { outdir: options.outdir, context: options.context },
    );
    const { default: sstConfig } = await import("../sst.config.ts");
    await sstConfig.stacks(app);
    await app.finish();
    return { app, assembly: app.synth() };
  } finally {
    restore();
  }
}

let dir: string | undefined;
function workDir(): string {
  if (!dir) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "photo-clusters-sst-"));
    process.on("exit", releaseWorkDir);
  }
  return dir;
}

/** Remove this process's SST work directory (test workers are stopped without an exit event). */
export function releaseWorkDir(): void {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
}

/** Replace SST's esbuild step with a one-line stub per function, at the path the bundle would have. */
function stubBundling(): () => void {
  const handlers = useRuntimeHandlers();
  const build = handlers.build;
  handlers.build = async (functionID: string) => {
    const props = useFunctions().fromID(functionID);
    if (!props?.handler) return { type: "error", errors: [`no function ${functionID}`] };
    const out = path.join(useProject().paths.artifacts, functionID);
    const parsed = path.parse(props.handler);
    fs.rmSync(out, { recursive: true, force: true });
    fs.mkdirSync(path.join(out, parsed.dir), { recursive: true });
    fs.writeFileSync(path.join(out, parsed.dir, `${parsed.name}.mjs`), `export const ${parsed.ext.slice(1)} = async () => {};\n`);
    return { type: "success", handler: props.handler, out } as Awaited<ReturnType<typeof build>>;
  };
  return () => {
    handlers.build = build;
  };
}
