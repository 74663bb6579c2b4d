import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import type { CloudAssembly } from "aws-cdk-lib/cx-api";

export interface BundleSize {
  stack: string;
  logicalId: string;
  handler: string;
  /** Bytes of every file in the asset directory. */
  bytes: number;
  /** The same files deflated one by one: close to the zip Lambda receives. */
  deflated: number;
  files: string[];
}

/** Our handlers' code assets (Handler under packages/), read from the synthesized assembly. */
export function bundleSizes(assembly: CloudAssembly): BundleSize[] {
  const sizes: BundleSize[] = [];
  for (const stack of assembly.stacks) {
    const resources = (stack.template as { Resources: Record<string, { Type: string; Properties: any }> }).Resources;
    for (const [logicalId, resource] of Object.entries(resources)) {
      if (resource.Type !== "AWS::Lambda::Function") continue;
      const handler: string = resource.Properties.Handler ?? "";
      const key: unknown = resource.Properties.Code?.S3Key;
      if (!handler.startsWith("packages/") || typeof key !== "string") continue;
      const dir = path.join(assembly.directory, `asset.${key.replace(/\.zip$/, "")}`);
      const files = listFiles(dir);
      let bytes = 0;
      let deflated = 0;
      for (const file of files) {
        const data = fs.readFileSync(path.join(dir, file));
        bytes += data.length;
        deflated += zlib.deflateRawSync(data, { level: 9 }).length;
      }
      sizes.push({ stack: stack.stackName, logicalId, handler, bytes, deflated, files });
    }
  }
  return sizes;
}

function listFiles(dir: string, prefix = ""): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? listFiles(path.join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`]));
}

export function formatBytes(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e3).toFixed(1)} kB`;
}
