import { Function as SstFunction, type StackContext, use } from "sst/constructs";
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as cloudwatchActions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as s3n from "aws-cdk-lib/aws-s3-notifications";
import * as sns from "aws-cdk-lib/aws-sns";
import * as snsSubscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { withNativePackages } from "./bundling.ts";
import { efsMount } from "./efs-mount.ts";
import { CDK_BUCKET_NOTIFICATIONS_HANDLER, LAMBDA_MANAGED_POLICIES, suppress, XRAY_TRACING } from "./nag.ts";
import { Embedding } from "./Embedding.ts";
import { pollerConcurrency, stageSettings } from "./stages.ts";
import { DATA_DIR, Storage } from "./Storage.ts";

/** Only objects under this prefix are photos; the poller may read nothing else. */
export const PHOTOS_PREFIX = "users/";

/**
 * Upload → embedding → store: the photo bucket notifies the queue, the poller (outside the VPC)
 * embeds each photo with the endpoint and hands the vectors to the writer (in the VPC, on EFS).
 */
export function Pipeline({ stack, app }: StackContext) {
  const settings = stageSettings(app.stage);
  const { vpc, accessPoint } = use(Storage);
  const embedding = use(Embedding);
  const retain = settings.removal === "retain";
  const removalPolicy = retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

  const accessLogs = new s3.Bucket(stack, "AccessLogs", {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    lifecycleRules: [{ expiration: Duration.days(settings.logRetentionDays) }],
    removalPolicy,
    autoDeleteObjects: !retain,
  });
  const photos = new s3.Bucket(stack, "Photos", {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    serverAccessLogsBucket: accessLogs,
    serverAccessLogsPrefix: "photos/",
    // A web app's pages post presigned uploads straight to the bucket, from its own origins only.
    cors: settings.browserOrigins.length
      ? [
          {
            allowedMethods: [s3.HttpMethods.POST],
            allowedOrigins: settings.browserOrigins,
            allowedHeaders: ["*"],
            exposedHeaders: ["ETag", "Location"],
            maxAge: 3000,
          },
        ]
      : undefined,
    removalPolicy,
    autoDeleteObjects: !retain,
  });

  const deadLetters = new sqs.Queue(stack, "UploadsDlq", {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  const uploads = new sqs.Queue(stack, "Uploads", {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    deliveryDelay: Duration.seconds(settings.queue.deliveryDelaySeconds),
    // AWS's rule for Lambda event sources: at least 6× the function timeout, so retries of a
    // throttled or slow batch do not make the same message visible twice at once.
    visibilityTimeout: Duration.seconds(settings.poller.timeoutSeconds * 6),
    deadLetterQueue: { queue: deadLetters, maxReceiveCount: settings.queue.maxReceiveCount },
  });
  for (const event of [s3.EventType.OBJECT_CREATED, s3.EventType.OBJECT_REMOVED]) {
    photos.addEventNotification(event, new s3n.SqsDestination(uploads), { prefix: PHOTOS_PREFIX });
  }

  const dlqAlarm = new cloudwatch.Alarm(stack, "UploadsDlqDepth", {
    alarmDescription: "Uploads that failed to embed or store after every retry are waiting in the dead-letter queue",
    metric: deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: "Maximum" }),
    threshold: settings.queue.dlqAlarmThreshold,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  // Every alarm of the stage tells this topic (the others are in Monitoring.ts); subscribe to it (or
  // give `-c alarmEmail=…`). Encrypted with a key of our own: CloudWatch cannot publish to a topic
  // under the AWS-managed SNS key.
  const alarmKey = new kms.Key(stack, "AlarmTopicKey", { enableKeyRotation: true, description: "Encrypts the alarm topic", removalPolicy });
  alarmKey.grant(new iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*");
  const alarms = new sns.Topic(stack, "Alarms", { masterKey: alarmKey, enforceSSL: true });
  const alarmEmail = stack.node.tryGetContext("alarmEmail");
  if (typeof alarmEmail === "string" && alarmEmail.length > 0) alarms.addSubscription(new snsSubscriptions.EmailSubscription(alarmEmail));
  dlqAlarm.addAlarmAction(new cloudwatchActions.SnsAction(alarms));

  const writerLogs = logGroup(stack, "WriterLogs", settings.logRetentionDays, removalPolicy);
  const pollerLogs = logGroup(stack, "PollerLogs", settings.logRetentionDays, removalPolicy);
  const writerSecurityGroup = new ec2.SecurityGroup(stack, "WriterSecurityGroup", {
    vpc,
    description: "photo-clusters writer: NFS to the embeddings file system only",
    allowAllOutbound: false,
  });
  const writer = new SstFunction(stack, "Writer", {
    handler: "packages/functions/src/writer.handler",
    description: "Appends embeddings to the users' stores on EFS",
    timeout: settings.writer.timeoutSeconds,
    memorySize: settings.writer.memoryMb,
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    securityGroups: [writerSecurityGroup],
    filesystem: efsMount(accessPoint, DATA_DIR, "read-write"),
    environment: { DATA_DIR, ...embedding.modelEnv },
    logGroup: writerLogs,
  });

  const pollerHandler = "packages/functions/src/poller.handler";
  const poller = new SstFunction(stack, "Poller", {
    handler: pollerHandler,
    // sharp (each photo's one decode) is native, and libheif-js (HEIC, in WebAssembly) loads only on
    // the first HEIC: both are installed beside the bundle for Lambda's arm64, not bundled.
    ...withNativePackages(pollerHandler, ["sharp", "libheif-js"], "arm_64"),
    description: "Embeds uploaded photos and hands the vectors to the writer",
    timeout: settings.poller.timeoutSeconds,
    memorySize: settings.poller.memoryMb,
    environment: {
      BUCKET_NAME: photos.bucketName,
      ENDPOINT_NAME: embedding.endpointName,
      WRITER_FUNCTION_NAME: writer.functionName,
      MODEL_ID: embedding.modelId,
      EMBED_CONCURRENCY: String(pollerConcurrency(embedding.maxConcurrency).perInvocation),
      MAX_RECEIVE_COUNT: String(settings.queue.maxReceiveCount),
    },
    logGroup: pollerLogs,
  });
  poller.addToRolePolicy(new iam.PolicyStatement({ actions: ["s3:GetObject"], resources: [photos.arnForObjects(`${PHOTOS_PREFIX}*`)] }));
  // Without ListBucket, S3 answers a GetObject of a deleted key with 403 instead of 404, and the
  // poller could not tell "deleted since the event" (acknowledge) from a real permission error.
  // Unconditioned, because S3 decides 404 vs 403 on ListBucket as such; it reveals key names only,
  // of photos this function may read anyway.
  poller.addToRolePolicy(new iam.PolicyStatement({ actions: ["s3:ListBucket"], resources: [photos.bucketArn] }));
  poller.addToRolePolicy(new iam.PolicyStatement({ actions: ["sagemaker:InvokeEndpoint"], resources: [embedding.endpointArn] }));
  poller.addToRolePolicy(new iam.PolicyStatement({ actions: ["lambda:InvokeFunction"], resources: [writer.functionArn] }));
  suppress(writer, [...LAMBDA_MANAGED_POLICIES, ...XRAY_TRACING]);
  suppress(poller, [
    ...LAMBDA_MANAGED_POLICIES,
    ...XRAY_TRACING,
    {
      id: "AwsSolutions-IAM5",
      reason: "The poller reads photos under users/ only; keys are users/<userId>/<name>.<ext>, unknown in advance.",
      appliesTo: [{ regex: "/^Resource::<Photos[0-9A-F]+\\.Arn>\\/users\\/\\*$/" }],
    },
  ]);
  const notificationsHandler = stack.node.tryFindChild("BucketNotificationsHandler050a0587b7544547bf325f094a3db834");
  if (notificationsHandler) suppress(notificationsHandler, CDK_BUCKET_NOTIFICATIONS_HANDLER);

  poller.addEventSource(
    new SqsEventSource(uploads, {
      batchSize: settings.poller.batchSize,
      maxBatchingWindow: Duration.seconds(settings.poller.maxBatchingWindowSeconds),
      reportBatchItemFailures: true,
      // Pollers × photos each ≤ what the endpoint serves at once: the rest wait in the queue.
      maxConcurrency: pollerConcurrency(embedding.maxConcurrency).invocations,
    }),
  );

  stack.addOutputs({
    BucketName: photos.bucketName,
    QueueUrl: uploads.queueUrl,
    DeadLetterQueueUrl: deadLetters.queueUrl,
    DeadLetterQueueArn: deadLetters.queueArn,
    DlqAlarmName: dlqAlarm.alarmName,
    AlarmTopicArn: alarms.topicArn,
    PollerFunctionName: poller.functionName,
    WriterFunctionName: writer.functionName,
    PollerLogGroup: pollerLogs.logGroupName,
    WriterLogGroup: writerLogs.logGroupName,
  });
  return { photos, uploads, deadLetters, poller, writer, alarmTopic: alarms };
}

function logGroup(scope: StackContext["stack"], id: string, days: number, removalPolicy: RemovalPolicy) {
  return new logs.LogGroup(scope, id, { retention: days as logs.RetentionDays, removalPolicy });
}
