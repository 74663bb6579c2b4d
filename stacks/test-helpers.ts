import os from "node:os";
import fs from "node:fs";
import path from "node:path";
import { Template } from "aws-cdk-lib/assertions";
import type { getStack } from "sst/constructs";
import { releaseWorkDir, synthApp, type SynthOptions } from "./synth-app.ts";

export type StackFn = Parameters<typeof getStack>[0];

/** The three handlers, as the stacks name them. */
export const POLLER = "packages/functions/src/poller.handler";
export const WRITER = "packages/functions/src/writer.handler";
export const API = "packages/functions/src/api.handler";

const created: string[] = [];

/** Remove what this file's syntheses wrote: call from `afterAll`. */
export function removeSynthOutput(): void {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  releaseWorkDir();
}

/** Synthesize the whole app for a stage (handlers stubbed unless asked) and read it back. */
export async function synthStage(stage: string, options: Omit<SynthOptions, "stage" | "bundle"> & { bundle?: boolean } = {}) {
  const outdir = options.outdir ?? fs.mkdtempSync(path.join(os.tmpdir(), `cdk-${stage}-`));
  if (!options.outdir) created.push(outdir);
  const { app, assembly } = await synthApp({ stage, bundle: options.bundle ?? false, outdir, context: options.context });
  // SST names a stack "<stage>-<app>-<function name>"; resolved against this app, not the last one built.
  const stackName = (fn: StackFn) => app.logicalPrefixedName(fn.name);
  const templates = new Map<StackFn, Template>();
  return {
    assembly,
    stackName,
    template(fn: StackFn): Template {
      let template = templates.get(fn);
      if (!template) {
        template = Template.fromJSON(assembly.getStackByName(stackName(fn)).template);
        templates.set(fn, template);
      }
      return template;
    },
  };
}

/** Resources of one type in a template, by logical id. */
export function resources(template: Template, type: string): Record<string, { Properties: any; DeletionPolicy?: string }> {
  return template.findResources(type) as Record<string, { Properties: any; DeletionPolicy?: string }>;
}

export function only<T>(record: Record<string, T>): T {
  const values = Object.values(record);
  if (values.length !== 1) throw new Error(`expected exactly one, found ${values.length}`);
  return values[0];
}

/** The Lambda function whose handler is `handler` (e.g. "packages/functions/src/api.handler"). */
export function lambdaByHandler(template: Template, handler: string): [string, { Properties: any }] {
  const found = Object.entries(resources(template, "AWS::Lambda::Function")).filter(([, r]) => r.Properties.Handler === handler);
  if (found.length !== 1) throw new Error(`expected one function with handler ${handler}, found ${found.length}`);
  return found[0];
}

/** Statements of every IAM policy attached to the role of a function. */
export function roleStatements(template: Template, fn: { Properties: any }): any[] {
  const roleId = fn.Properties.Role["Fn::GetAtt"][0];
  return Object.values(resources(template, "AWS::IAM::Policy"))
    .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

type Assembly = Awaited<ReturnType<typeof synthStage>>["assembly"];

/**
 * A value with every cross-stack import replaced by what the exporting stack exports, written as
 * "<logical id>" for a Ref and "<logical id>.<attribute>" for a GetAtt: so a test can tell which
 * resource of another stack an alarm or a dashboard widget points at.
 */
export function resolveImports(assembly: Assembly, value: any): any {
  if (Array.isArray(value)) return value.map((v) => resolveImports(assembly, v));
  if (!value || typeof value !== "object") return value;
  if ("Fn::ImportValue" in value) {
    for (const stack of assembly.stacks) {
      const outputs = Object.values((stack.template as any).Outputs ?? {}) as any[];
      const exported = outputs.find((o) => o.Export?.Name === value["Fn::ImportValue"]);
      if (exported?.Value.Ref) return exported.Value.Ref;
      if (exported?.Value["Fn::GetAtt"]) return exported.Value["Fn::GetAtt"].join(".");
    }
    throw new Error(`no stack exports ${value["Fn::ImportValue"]}`);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveImports(assembly, v)]));
}
