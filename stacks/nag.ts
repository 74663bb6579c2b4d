import { Aspects, Stack } from "aws-cdk-lib";
import type { CloudAssembly } from "aws-cdk-lib/cx-api";
import { AwsSolutionsChecks, NagSuppressions, type NagPackSuppression } from "cdk-nag";
import type { IConstruct } from "constructs";

/**
 * cdk-nag AwsSolutions over the whole app. Findings become error/warning annotations on the
 * resources; `nagErrors` reads the unsuppressed errors back from the synthesized assembly.
 * Every suppression names the rule, the exact finding where the rule has several, and the reason.
 */
export function addNagChecks(app: IConstruct): void {
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  for (const stack of app.node.children) {
    if (!Stack.isStack(stack)) continue;
    const sstHandler = stack.node.tryFindChild("CustomResourceHandler");
    if (sstHandler) suppress(sstHandler, SST_CUSTOM_RESOURCE_HANDLER);
  }
}

export function suppress(construct: IConstruct, rules: NagPackSuppression[]): void {
  NagSuppressions.addResourceSuppressions(construct, rules, true);
}

const managedPolicy = (name: string) => `Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${name}`;

/** Our functions' roles: CDK attaches these AWS-managed policies to every Lambda role. */
export const LAMBDA_MANAGED_POLICIES: NagPackSuppression[] = [
  {
    id: "AwsSolutions-IAM4",
    reason:
      "AWSLambdaBasicExecutionRole only allows creating and writing CloudWatch log streams; " +
      "AWSLambdaVPCAccessExecutionRole only the ENI actions Lambda needs to place a function in the VPC, " +
      "which IAM cannot scope to resources. Both are the AWS-maintained minimum for these functions.",
    appliesTo: [managedPolicy("AWSLambdaBasicExecutionRole"), managedPolicy("AWSLambdaVPCAccessExecutionRole")],
  },
];

/** Our functions' roles under X-Ray active tracing: CDK adds the two actions the Lambda X-Ray daemon needs. */
export const XRAY_TRACING: NagPackSuppression[] = [
  {
    id: "AwsSolutions-IAM5",
    reason:
      "xray:PutTraceSegments and xray:PutTelemetryRecords, added by CDK for active tracing, have no resource-level " +
      "permissions: IAM only accepts Resource * for them. The statement allows those two actions and nothing else.",
    appliesTo: ["Resource::*"],
  },
];

/** SST v2 adds one custom-resource handler to every stack; its code and runtime come with the sst package. */
const SST_CUSTOM_RESOURCE_HANDLER: NagPackSuppression[] = [
  {
    id: "AwsSolutions-IAM4",
    reason: "SST's per-stack custom-resource handler; its role has only AWSLambdaBasicExecutionRole (its own logs).",
    appliesTo: [managedPolicy("AWSLambdaBasicExecutionRole")],
  },
  {
    id: "AwsSolutions-L1",
    reason: "SST's per-stack custom-resource handler: its runtime is pinned by sst 2.49.8, not by us; it moves with sst upgrades.",
  },
];

/** CDK's singleton that puts the bucket notification configuration (Custom::S3BucketNotifications). */
export const CDK_BUCKET_NOTIFICATIONS_HANDLER: NagPackSuppression[] = [
  {
    id: "AwsSolutions-IAM4",
    reason: "CDK's bucket-notifications handler; AWSLambdaBasicExecutionRole only lets it write its own logs.",
    appliesTo: [managedPolicy("AWSLambdaBasicExecutionRole")],
  },
];

export interface NagFinding {
  stack: string;
  path: string;
  message: string;
}

/** The unsuppressed AwsSolutions errors in a synthesized assembly. */
export function nagErrors(assembly: CloudAssembly): NagFinding[] {
  return assembly.stacks.flatMap((stack) =>
    stack.messages
      .filter((m) => m.level === "error" && String(m.entry.data).startsWith("AwsSolutions-"))
      .map((m) => ({ stack: stack.stackName, path: m.id, message: String(m.entry.data) })),
  );
}
