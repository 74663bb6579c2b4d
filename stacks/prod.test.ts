import fs from "node:fs";
import path from "node:path";
import { Match } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resnet50V1 } from "../packages/core/src/models.ts";
import { Api } from "./Api.ts";
import { Embedding } from "./Embedding.ts";
import { nagErrors } from "./nag.ts";
import { Pipeline } from "./Pipeline.ts";
import { stageSettings } from "./stages.ts";
import { Storage } from "./Storage.ts";
import { lambdaByHandler, only, resources, roleStatements, removeSynthOutput, synthStage, API, POLLER, WRITER } from "./test-helpers.ts";

afterAll(removeSynthOutput);

const prod = stageSettings("prod");
let synth: Awaited<ReturnType<typeof synthStage>>;

beforeAll(async () => {
  synth = await synthStage("prod");
});

describe("the photo bucket", () => {
  it("blocks public access, encrypts, and refuses requests without TLS", () => {
    const t = synth.template(Pipeline);
    const [id] = Object.keys(
      t.findResources("AWS::S3::Bucket", { Properties: { NotificationConfiguration: Match.absent(), LoggingConfiguration: Match.anyValue() } }),
    );
    t.hasResourceProperties("AWS::S3::Bucket", {
      LoggingConfiguration: Match.anyValue(),
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] },
    });
    t.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: { Ref: id },
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } })]) },
    });
  });

  it("sends ObjectCreated and ObjectRemoved under users/ to the uploads queue", () => {
    const t = synth.template(Pipeline);
    const queueId = Object.keys(resources(t, "AWS::SQS::Queue")).find((k) => k.startsWith("Uploads") && !k.startsWith("UploadsDlq"));
    const notifications = only(resources(t, "Custom::S3BucketNotifications")).Properties.NotificationConfiguration;
    const toQueue = (event: string) => ({
      Events: [event],
      Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "users/" }] } },
      QueueArn: { "Fn::GetAtt": [queueId, "Arn"] },
    });
    expect(notifications.QueueConfigurations).toEqual([toQueue("s3:ObjectCreated:*"), toQueue("s3:ObjectRemoved:*")]);
  });

  it("logs access to a private log bucket that takes no ACLs", () => {
    const t = synth.template(Pipeline);
    const buckets = Object.values(resources(t, "AWS::S3::Bucket")).map((b) => b.Properties);
    expect(buckets).toHaveLength(2);
    for (const bucket of buckets) {
      expect(bucket.OwnershipControls.Rules).toEqual([{ ObjectOwnership: "BucketOwnerEnforced" }]);
      expect(bucket.PublicAccessBlockConfiguration.BlockPublicPolicy).toBe(true);
    }
    expect(buckets.find((b) => b.LoggingConfiguration)!.LoggingConfiguration.LogFilePrefix).toBe("photos/");
  });

  it("is retained when a production stack is deleted", () => {
    for (const bucket of Object.values(resources(synth.template(Pipeline), "AWS::S3::Bucket"))) expect(bucket.DeletionPolicy).toBe("Retain");
  });
});

describe("the uploads queue", () => {
  it("delays delivery, encrypts, and hides a message for at least 6× the poller's timeout", () => {
    const t = synth.template(Pipeline);
    const [, poller] = lambdaByHandler(t, POLLER);
    const queue = Object.entries(resources(t, "AWS::SQS::Queue")).find(([, q]) => q.Properties.RedrivePolicy)![1].Properties;
    expect(queue.DelaySeconds).toBe(prod.queue.deliveryDelaySeconds);
    expect(queue.SqsManagedSseEnabled).toBe(true);
    expect(queue.VisibilityTimeout).toBeGreaterThanOrEqual(6 * poller.Properties.Timeout);
    expect(queue.RedrivePolicy.maxReceiveCount).toBe(prod.queue.maxReceiveCount);
  });

  it("refuses requests without TLS, on the queue and its dead-letter queue", () => {
    const policies = Object.values(resources(synth.template(Pipeline), "AWS::SQS::QueuePolicy"));
    expect(policies).toHaveLength(2);
    for (const p of policies) {
      expect(p.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
      );
    }
  });

  it("raises an alarm when anything reaches the dead-letter queue", () => {
    const t = synth.template(Pipeline);
    const [dlqId] = Object.entries(resources(t, "AWS::SQS::Queue")).find(([, q]) => !q.Properties.RedrivePolicy)!;
    t.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "AWS/SQS",
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [dlqId, "QueueName"] } }],
      Threshold: prod.queue.dlqAlarmThreshold,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
    });
    // ...and tells an encrypted, TLS-only topic that CloudWatch may publish to.
    const [topicId, topic] = onlyEntry(resources(t, "AWS::SNS::Topic"));
    expect(only(resources(t, "AWS::CloudWatch::Alarm")).Properties.AlarmActions).toEqual([{ Ref: topicId }]);
    const [keyId, key] = onlyEntry(resources(t, "AWS::KMS::Key"));
    expect(topic.Properties.KmsMasterKeyId).toEqual({ "Fn::GetAtt": [keyId, "Arn"] });
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(key.Properties.KeyPolicy.Statement).toContainEqual(
      expect.objectContaining({ Principal: { Service: "cloudwatch.amazonaws.com" }, Action: ["kms:Decrypt", "kms:GenerateDataKey*"] }),
    );
    expect(only(resources(t, "AWS::SNS::TopicPolicy")).Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
    );
    expect(resources(t, "AWS::SNS::Subscription")).toEqual({});
  });
});

describe("the poller", () => {
  it("takes SQS batches, reports failures per record, and never has more photos in flight than the endpoint serves", () => {
    const endpointMax = only(resources(synth.template(Embedding), "AWS::SageMaker::EndpointConfig")).Properties.ProductionVariants[0].ServerlessConfig
      .MaxConcurrency;
    const mapping = only(resources(synth.template(Pipeline), "AWS::Lambda::EventSourceMapping")).Properties;
    const [, poller] = lambdaByHandler(synth.template(Pipeline), POLLER);
    expect(mapping.BatchSize).toBe(prod.poller.batchSize);
    expect(mapping.FunctionResponseTypes).toEqual(["ReportBatchItemFailures"]);
    const inFlight = mapping.ScalingConfig.MaximumConcurrency * Number(poller.Properties.Environment.Variables.EMBED_CONCURRENCY);
    expect(inFlight).toBeLessThanOrEqual(endpointMax);
    expect(inFlight).toBeGreaterThanOrEqual(endpointMax / 2);
  });

  it("knows the queue's maxReceiveCount, so a photo failing on its last delivery is recorded as failed", () => {
    const t = synth.template(Pipeline);
    const queue = Object.values(resources(t, "AWS::SQS::Queue")).find((q) => q.Properties.RedrivePolicy)!.Properties;
    const [, poller] = lambdaByHandler(t, POLLER);
    expect(Number(poller.Properties.Environment.Variables.MAX_RECEIVE_COUNT)).toBe(queue.RedrivePolicy.maxReceiveCount);
  });

  it("runs outside the VPC and is told its bucket, endpoint, writer and model", () => {
    const [, poller] = lambdaByHandler(synth.template(Pipeline), POLLER);
    expect(poller.Properties.VpcConfig).toBeUndefined();
    expect(Object.keys(poller.Properties.Environment.Variables)).toEqual(
      expect.arrayContaining(["BUCKET_NAME", "ENDPOINT_NAME", "WRITER_FUNCTION_NAME", "MODEL_ID"]),
    );
    expect(poller.Properties.Environment.Variables.MODEL_ID).toBe(resnet50V1.id);
  });

  it("may read users/* only, invoke only its endpoint and its writer, and consume only its queue", () => {
    const t = synth.template(Pipeline);
    const [, poller] = lambdaByHandler(t, POLLER);
    const [writerId] = lambdaByHandler(t, WRITER);
    const statements = roleStatements(t, poller);
    const byAction = (action: string) => statements.filter((s) => [s.Action].flat().includes(action));
    expect(statements.flatMap((s) => [s.Action].flat()).sort()).toEqual(
      [
        "lambda:InvokeFunction",
        "s3:GetObject",
        "s3:ListBucket",
        "sagemaker:InvokeEndpoint",
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
        // X-Ray tracing (see monitoring.test.ts): the only actions on Resource *.
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
      ].sort(),
    );
    expect(byAction("s3:GetObject")[0].Resource["Fn::Join"][1][1]).toBe("/users/*");
    // ListBucket on the bucket itself, so a photo deleted since its event reads as 404, not 403.
    expect(byAction("s3:ListBucket")[0].Resource).toEqual({ "Fn::GetAtt": [expect.stringMatching(/^Photos/), "Arn"] });
    expect(byAction("lambda:InvokeFunction")[0].Resource).toEqual({ "Fn::GetAtt": [writerId, "Arn"] });
    expect(byAction("sagemaker:InvokeEndpoint")[0].Resource).toEqual({ "Fn::ImportValue": expect.stringMatching(/Embedding:ExportsOutputRefEndpoint/) });
  });
});

describe("the embedding endpoint", () => {
  it("is a serverless endpoint with the stage's memory and concurrency", () => {
    const t = synth.template(Embedding);
    const config = only(resources(t, "AWS::SageMaker::EndpointConfig")).Properties;
    expect(config.ProductionVariants).toEqual([
      expect.objectContaining({ ServerlessConfig: { MemorySizeInMB: prod.endpoint.memoryMb, MaxConcurrency: prod.endpoint.maxConcurrency } }),
    ]);
    const [configId] = Object.keys(resources(t, "AWS::SageMaker::EndpointConfig"));
    t.hasResourceProperties("AWS::SageMaker::Endpoint", { EndpointConfigName: { "Fn::GetAtt": [configId, "EndpointConfigName"] } });
  });

  it("runs the model-server image built with core's pinned ResNet-50 url and sha256", () => {
    const model = only(resources(synth.template(Embedding), "AWS::SageMaker::Model")).Properties;
    expect(model.PrimaryContainer.Image["Fn::Sub"]).toMatch(/container-assets/);
    const manifest = JSON.parse(fs.readFileSync(path.join(synth.assembly.directory, `${synth.stackName(Embedding)}.assets.json`), "utf8"));
    const images = Object.values(manifest.dockerImages) as any[];
    expect(images).toHaveLength(1);
    expect(images[0].source).toEqual({
      directory: expect.stringMatching(/^asset\./),
      dockerBuildArgs: { MODEL_URL: resnet50V1.source.url, MODEL_SHA256: resnet50V1.source.sha256, MODEL_ID: resnet50V1.id },
      platform: "linux/amd64",
    });
    // The build context is packages/model-server as its .dockerignore leaves it: Dockerfile and dist/ only.
    const staged = fs.readdirSync(path.join(synth.assembly.directory, images[0].source.directory));
    expect(staged).toContain("Dockerfile");
    expect(staged.filter((f) => ![".dockerignore", "Dockerfile", "dist"].includes(f))).toEqual([]);
  });

  it("has an execution role that can pull its image and write its own logs, nothing more", () => {
    const t = synth.template(Embedding);
    t.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: "sagemaker.amazonaws.com" } })] },
    });
    const statements = only(resources(t, "AWS::IAM::Policy")).Properties.PolicyDocument.Statement;
    const actions = statements.flatMap((s: any) => [s.Action].flat());
    expect(actions.every((a: string) => a.startsWith("ecr:") || a.startsWith("logs:"))).toBe(true);
    expect(JSON.stringify(statements.filter((s: any) => [s.Action].flat()[0].startsWith("logs:")))).toContain(
      "/aws/sagemaker/Endpoints/prod-photo-clusters-embeddings",
    );
  });
});

describe("storage", () => {
  it("is a VPC over two listed availability zones, with no internet route", () => {
    const t = synth.template(Storage);
    const zones = Object.values(resources(t, "AWS::EC2::Subnet"))
      .map((s) => s.Properties.AvailabilityZone)
      .sort();
    expect(zones).toEqual(["us-east-1a", "us-east-1b"]);
    t.resourceCountIs("AWS::EC2::NatGateway", 0);
    t.resourceCountIs("AWS::EC2::InternetGateway", 0);
  });

  it("is an encrypted file system that refuses mounts without TLS and allows no one by itself", () => {
    const fs = only(resources(synth.template(Storage), "AWS::EFS::FileSystem"));
    expect(fs.Properties.Encrypted).toBe(true);
    expect(fs.DeletionPolicy).toBe("Retain");
    const statements = fs.Properties.FileSystemPolicy.Statement;
    expect(statements).toContainEqual(expect.objectContaining({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }));
    expect(statements.filter((s: any) => s.Effect === "Allow")).toEqual([]);
  });

  it("has an access point with its own POSIX user and root directory", () => {
    synth.template(Storage).hasResourceProperties("AWS::EFS::AccessPoint", {
      PosixUser: { Uid: "1000", Gid: "1000" },
      RootDirectory: { Path: "/embeddings", CreationInfo: { OwnerUid: "1000", OwnerGid: "1000", Permissions: "750" } },
    });
  });

  it("is mounted by the writer read-write and by the API read-only, through the access point only", () => {
    for (const [stack, handler, actions] of [
      [Pipeline, WRITER, ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]],
      [Api, API, ["elasticfilesystem:ClientMount"]],
    ] as const) {
      const t = synth.template(stack);
      const [, fn] = lambdaByHandler(t, handler);
      expect(fn.Properties.VpcConfig.SubnetIds).toHaveLength(2);
      expect(fn.Properties.FileSystemConfigs).toEqual([{ Arn: expect.anything(), LocalMountPath: "/mnt/embeddings" }]);
      expect(fn.Properties.Environment.Variables.DATA_DIR).toBe("/mnt/embeddings");
      const statements = roleStatements(t, fn).filter((s) => String(s.Action).startsWith("elasticfilesystem:"));
      expect(statements).toEqual([
        expect.objectContaining({
          Action: actions.length === 1 ? actions[0] : [...actions],
          Condition: { StringEquals: { "elasticfilesystem:AccessPointArn": expect.anything() } },
        }),
      ]);
    }
  });
});

describe("the API", () => {
  it("serves the clusters, similar, delete, status and uploads routes, each behind the JWT authorizer", () => {
    const t = synth.template(Api);
    const routes = Object.values(resources(t, "AWS::ApiGatewayV2::Route")).map((r) => r.Properties);
    expect(routes.map((r) => r.RouteKey).sort()).toEqual([
      "DELETE /users/{userId}/images/{rest+}",
      "GET /users/{userId}/clusters",
      "GET /users/{userId}/images/{rest+}",
      "GET /users/{userId}/status",
      "POST /users/{userId}/uploads",
    ]);
    const [authorizerId] = Object.keys(resources(t, "AWS::ApiGatewayV2::Authorizer"));
    for (const route of routes) expect(route).toMatchObject({ AuthorizationType: "JWT", AuthorizerId: { Ref: authorizerId } });
  });

  it("may put and delete objects under users/* only (its presigned uploads, and a photo deleted from the review), and knows the bucket", () => {
    const t = synth.template(Api);
    const [, fn] = lambdaByHandler(t, API);
    // Besides the EFS mount and sending X-Ray trace segments (both tested elsewhere).
    const statements = roleStatements(t, fn).filter((s) => !String(s.Action).startsWith("elasticfilesystem:") && s.Resource !== "*");
    expect(statements).toEqual([{ Effect: "Allow", Action: ["s3:PutObject", "s3:DeleteObject"], Resource: expect.anything() }]);
    const [arn, suffix] = statements[0].Resource["Fn::Join"][1];
    expect(arn).toEqual({ "Fn::ImportValue": expect.stringMatching(/Pipeline:ExportsOutputFnGetAttPhotos.*Arn/) });
    expect(suffix).toBe("/users/*");
    expect(fn.Properties.Environment.Variables.PHOTOS_BUCKET).toEqual({ "Fn::ImportValue": expect.stringMatching(/Pipeline:ExportsOutputRefPhotos/) });
  });

  it("is told its own timeout, which the exact path's budget takes a share of", () => {
    const [, fn] = lambdaByHandler(synth.template(Api), API);
    expect(fn.Properties.Timeout).toBe(prod.api.timeoutSeconds);
    expect(fn.Properties.Environment.Variables.API_TIMEOUT_SECONDS).toBe(String(fn.Properties.Timeout));
  });

  it("checks tokens from the stack's own user pool", () => {
    const t = synth.template(Api);
    const [poolId] = Object.keys(resources(t, "AWS::Cognito::UserPool"));
    const [clientId] = Object.keys(resources(t, "AWS::Cognito::UserPoolClient"));
    t.hasResourceProperties("AWS::ApiGatewayV2::Authorizer", {
      AuthorizerType: "JWT",
      JwtConfiguration: { Audience: [{ Ref: clientId }], Issuer: { "Fn::Join": ["", ["https://cognito-idp.us-east-1.amazonaws.com/", { Ref: poolId }]] } },
    });
  });

  it("throttles and logs every request of its one stage", () => {
    synth.template(Api).hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      StageName: "$default",
      DefaultRouteSettings: { ThrottlingRateLimit: prod.api.throttle.rateLimit, ThrottlingBurstLimit: prod.api.throttle.burstLimit },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp("authorizer.claims.sub") },
    });
  });

  it("calls the function through an alias that starts with the stage's minimum provisioned concurrency", () => {
    const t = synth.template(Api);
    const [aliasId, alias] = Object.entries(resources(t, "AWS::Lambda::Alias"))[0];
    expect(alias.Properties.ProvisionedConcurrencyConfig).toEqual({ ProvisionedConcurrentExecutions: prod.api.provisionedConcurrency.min });
    for (const integration of Object.values(resources(t, "AWS::ApiGatewayV2::Integration"))) {
      expect(integration.Properties.IntegrationUri).toEqual({ Ref: aliasId });
    }
  });
});

describe("cdk-nag AwsSolutions", () => {
  it("ran, and left no error unsuppressed", () => {
    const warnings = synth.assembly.stacks.flatMap((s) => s.messages.map((m) => String(m.entry.data)));
    // The MFA warning on the user pool shows the pack actually ran over the stacks.
    expect(warnings.some((w) => w.startsWith("AwsSolutions-COG2"))).toBe(true);
    expect(nagErrors(synth.assembly)).toEqual([]);
  });

  it("has a reason on every suppression", () => {
    const suppressions = synth.assembly.stacks.flatMap((s) =>
      Object.values((s.template as any).Resources).flatMap((r: any) => r.Metadata?.cdk_nag?.rules_to_suppress ?? []),
    );
    expect(suppressions.length).toBeGreaterThan(0);
    for (const s of suppressions) expect(s.reason.length, s.id).toBeGreaterThanOrEqual(60);
  });
});

function onlyEntry<T>(record: Record<string, T>): [string, T] {
  const entries = Object.entries(record);
  expect(entries).toHaveLength(1);
  return entries[0];
}
