import type { StackContext } from "sst/constructs";
import { ArnFormat, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as sagemaker from "aws-cdk-lib/aws-sagemaker";
import { DESCRIPTOR_FORMAT, readDescriptorFile } from "../packages/core/src/descriptor-file.ts";
import { modelById } from "../packages/core/src/models.ts";
import { cloudModel, modelImageUri } from "./model-image.ts";
import { suppress } from "./nag.ts";
import { stageSettings } from "./stages.ts";

/** The endpoint's one production variant; its CloudWatch metrics carry this name. */
const VARIANT_NAME = "AllTraffic";

/**
 * The embedding endpoint: our model-server image as a SageMaker serverless endpoint.
 * Serverless endpoints scale to zero and run outside any VPC; the poller calls InvokeEndpoint.
 */
export function Embedding({ stack, app }: StackContext) {
  const settings = stageSettings(app.stage);
  const model = cloudModel();
  const endpointName = `${app.stage}-${app.name}-embeddings`;
  const image = modelImageUri(stack, model);

  // The execution role pulls the image and writes the container's logs: nothing else.
  const role = new iam.Role(stack, "ExecutionRole", {
    assumedBy: new iam.ServicePrincipal("sagemaker.amazonaws.com"),
    description: "SageMaker execution role for the photo-clusters embedding endpoint",
  });
  if (image.asset) image.asset.repository.grantPull(role);
  else grantPullOfPrebuilt(role, image.uri);
  // The container's stdout goes to the endpoint's own log group, stream names chosen by SageMaker.
  const logGroupArn = stack.formatArn({
    service: "logs",
    resource: "log-group",
    resourceName: `/aws/sagemaker/Endpoints/${endpointName}`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  role.addToPolicy(
    new iam.PolicyStatement({
      actions: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
      resources: [logGroupArn, `${logGroupArn}:log-stream:*`],
    }),
  );
  suppress(role, [
    {
      id: "AwsSolutions-IAM5",
      reason:
        "ecr:GetAuthorizationToken has no resource-level permissions (image pulls are limited to the one repository); " +
        "log streams are named by SageMaker at run time, inside this endpoint's log group only.",
      appliesTo: [
        "Resource::*",
        { regex: "/^Resource::arn:<AWS::Partition>:logs:.*:log-group:\\/aws\\/sagemaker\\/Endpoints\\/.*-embeddings:log-stream:\\*$/" },
      ],
    },
  ]);

  const cfnModel = new sagemaker.CfnModel(stack, "Model", {
    executionRoleArn: role.roleArn,
    primaryContainer: { image: image.uri, mode: "SingleModel", environment: { MODEL_ID: model.id } },
  });
  // The model may only be created once the role can pull the image.
  cfnModel.node.addDependency(role);

  const endpointConfig = new sagemaker.CfnEndpointConfig(stack, "EndpointConfig", {
    productionVariants: [
      {
        variantName: VARIANT_NAME,
        modelName: cfnModel.attrModelName,
        initialVariantWeight: 1,
        serverlessConfig: { memorySizeInMb: settings.endpoint.memoryMb, maxConcurrency: settings.endpoint.maxConcurrency },
      },
    ],
  });

  const endpoint = new sagemaker.CfnEndpoint(stack, "Endpoint", {
    endpointName,
    endpointConfigName: endpointConfig.attrEndpointConfigName,
  });

  stack.addOutputs({ EndpointName: endpointName, ModelId: model.id, ModelImage: image.uri });
  // During a model switch (`previousModelId` context), the writer and the API keep the previous model's
  // stores answering per user until `photo-clusters backfill --reembed` has re-embedded that user.
  const previous = stack.node.tryGetContext("previousModelId");
  const previousModelId = typeof previous === "string" && previous.length > 0 ? previous : undefined;
  if (previousModelId === model.id) throw new Error(`previousModelId "${previousModelId}" must differ from the served model`);
  // A typo would deploy, then fail every write and every read at function start.
  if (previousModelId) modelById(previousModelId);
  const modelEnv: Record<string, string> = {
    MODEL_ID: model.id,
    ...(previousModelId ? { PREVIOUS_MODEL_ID: previousModelId } : {}),
    ...calibratedDescriptor(stack, model.id),
  };
  return { endpointName, variantName: VARIANT_NAME, endpointArn: endpoint.ref, modelId: model.id, modelEnv, maxConcurrency: settings.endpoint.maxConcurrency };
}

/**
 * `-c modelDescriptor=<file>` (from `photo-clusters calibrate --endpoint`): the served model's
 * calibration, floor and threshold, checked now and handed to the writer and the API inline in
 * MODEL_DESCRIPTOR_JSON (a Lambda has no file of ours to name). It must be the served model's: a
 * mean-centred descriptor has an id of its own, and the endpoint's image does not centre.
 */
function calibratedDescriptor(stack: Stack, servedId: string): Record<string, string> {
  const file = stack.node.tryGetContext("modelDescriptor");
  if (typeof file !== "string" || file.length === 0) return {};
  const model = readDescriptorFile(file);
  if (model.id !== servedId)
    throw new Error(
      `modelDescriptor ${file}: model.id "${model.id}" is not the served model "${servedId}" (a mean-centred descriptor is not deployable yet: calibrate without --center)`,
    );
  return { MODEL_DESCRIPTOR_JSON: JSON.stringify({ format: DESCRIPTOR_FORMAT, model }) };
}

/** A prebuilt image must live in ECR (SageMaker pulls from nowhere else); grant pull on its repository only. */
function grantPullOfPrebuilt(role: iam.Role, uri: string) {
  const match = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([^:@]+)/.exec(uri);
  if (!match) throw new Error(`modelImageUri "${uri}" is not an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>)`);
  const [, account, region, repository] = match;
  const partition = Stack.of(role).partition;
  role.addToPolicy(
    new iam.PolicyStatement({
      actions: ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
      resources: [`arn:${partition}:ecr:${region}:${account}:repository/${repository}`],
    }),
  );
  // GetAuthorizationToken has no resource-level permissions.
  role.addToPolicy(new iam.PolicyStatement({ actions: ["ecr:GetAuthorizationToken"], resources: ["*"] }));
}
