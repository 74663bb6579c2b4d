import { Stack } from "aws-cdk-lib";
import type * as efs from "aws-cdk-lib/aws-efs";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";

/**
 * A Lambda mount of one EFS access point, allowed for that access point only.
 *
 * CDK's `FileSystem.fromEfsAccessPoint` always grants ClientWrite, and on the whole file system;
 * here every grant is conditioned on the access point, and a reader gets no write at all.
 */
export function efsMount(accessPoint: efs.IAccessPoint, mountPath: string, access: "read" | "read-write") {
  const fileSystemArn = Stack.of(accessPoint).formatArn({
    service: "elasticfilesystem",
    resource: "file-system",
    resourceName: accessPoint.fileSystem.fileSystemId,
  });
  const actions = ["elasticfilesystem:ClientMount", ...(access === "read-write" ? ["elasticfilesystem:ClientWrite"] : [])];
  return new AccessPointMount({
    localMountPath: mountPath,
    arn: accessPoint.accessPointArn,
    dependency: [accessPoint.fileSystem.mountTargetsAvailable],
    connections: accessPoint.fileSystem.connections,
    policies: [
      new iam.PolicyStatement({
        actions,
        resources: [fileSystemArn],
        conditions: { StringEquals: { "elasticfilesystem:AccessPointArn": accessPoint.accessPointArn } },
      }),
    ],
  });
}

/** lambda.FileSystem's constructor is protected: its static factories are the public way in. */
class AccessPointMount extends lambda.FileSystem {
  constructor(config: lambda.FileSystemConfig) {
    super(config);
  }
}
