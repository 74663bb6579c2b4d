import type { StackContext } from "sst/constructs";
import { RemovalPolicy } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as efs from "aws-cdk-lib/aws-efs";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import { stageSettings } from "./stages.ts";

/** Where the writer and the API see the embeddings; the handlers read it from DATA_DIR. */
export const DATA_DIR = "/mnt/embeddings";

/** POSIX identity every EFS client gets through the access point, whatever its own uid. */
export const EMBEDDINGS_POSIX = { uid: "1000", gid: "1000" } as const;

/**
 * The private network and the embedding store: a VPC of isolated subnets only (no NAT, no
 * internet; the writer and the API need nothing but EFS), and an encrypted EFS file system that
 * only accepts TLS, reached through one access point rooted at /embeddings.
 */
export function Storage({ stack, app }: StackContext) {
  const settings = stageSettings(app.stage);
  const removalPolicy = settings.removal === "retain" ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

  const vpc = new ec2.Vpc(stack, "Vpc", {
    // Listed, not looked up: synthesis must work offline and give the same template every time.
    availabilityZones: availabilityZones(stack),
    natGateways: 0,
    subnetConfiguration: [{ name: "isolated", subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
    // Nothing is placed in the default security group; restricting it would cost a custom resource.
    restrictDefaultSecurityGroup: false,
  });
  vpc.addFlowLog("FlowLog", {
    destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(stack, "FlowLogGroup", { retention: settings.logRetentionDays, removalPolicy })),
    trafficType: ec2.FlowLogTrafficType.REJECT,
  });

  const fileSystem = new efs.FileSystem(stack, "Embeddings", {
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    securityGroup: new ec2.SecurityGroup(stack, "EmbeddingsSecurityGroup", {
      vpc,
      description: "photo-clusters embeddings file system: NFS from the writer and the API",
      allowAllOutbound: false,
    }),
    encrypted: true,
    performanceMode: efs.PerformanceMode.GENERAL_PURPOSE,
    throughputMode: efs.ThroughputMode.ELASTIC,
    enableAutomaticBackups: settings.removal === "retain",
    // Despite its name, `false` makes CDK add an Allow of ClientWrite and ClientRootAccess for
    // every IAM principal, which would hand the read-only API write and root. With `true` CDK adds
    // nothing: the policy below has no Allow at all, so anonymous (non-IAM) mounts are refused and
    // each function gets exactly what its own role allows (see efs-mount.ts).
    allowAnonymousAccess: true,
    removalPolicy,
  });
  // TLS mounts only: any request not over TLS is refused, whoever makes it.
  fileSystem.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: "DenyWithoutTls",
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ["*"],
      conditions: { Bool: { "aws:SecureTransport": "false" } },
    }),
  );

  const accessPoint = fileSystem.addAccessPoint("EmbeddingsAccessPoint", {
    path: "/embeddings",
    posixUser: EMBEDDINGS_POSIX,
    createAcl: { ownerUid: EMBEDDINGS_POSIX.uid, ownerGid: EMBEDDINGS_POSIX.gid, permissions: "750" },
  });

  return { vpc, fileSystem, accessPoint };
}

/** `<region>a` and `<region>b`, or the context value `availabilityZones` (comma-separated) where those do not exist. */
function availabilityZones(stack: StackContext["stack"]): string[] {
  const listed = stack.node.tryGetContext("availabilityZones");
  if (typeof listed === "string" && listed.trim()) return listed.split(",").map((zone) => zone.trim());
  return [`${stack.region}a`, `${stack.region}b`];
}
