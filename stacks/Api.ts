import { Function as SstFunction, type StackContext, use } from "sst/constructs";
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import * as apigw from "aws-cdk-lib/aws-apigatewayv2";
import { HttpJwtAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import * as cognito from "aws-cdk-lib/aws-cognito";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import { efsMount } from "./efs-mount.ts";
import { LAMBDA_MANAGED_POLICIES, suppress, XRAY_TRACING } from "./nag.ts";
import { Embedding } from "./Embedding.ts";
import { Pipeline, PHOTOS_PREFIX } from "./Pipeline.ts";
import { stageSettings } from "./stages.ts";
import { DATA_DIR, Storage } from "./Storage.ts";

/** The routes; every one of them sits behind the JWT authorizer. */
// An image id may hold '/' (sub-folders), and API Gateway hands the function its path decoded, so the
// similar route takes the rest of the path greedily (`{rest+}` must come last); the app reads
// `<imageId>/similar` from it.
export const ROUTES = [
  ["GET", "/users/{userId}/clusters"],
  ["GET", "/users/{userId}/images/{rest+}"],
  ["DELETE", "/users/{userId}/images/{rest+}"],
  ["GET", "/users/{userId}/status"],
  ["POST", "/users/{userId}/uploads"],
] as const;

/**
 * The clusters API: an HTTP API whose JWT authorizer checks the token (issuer, audience, expiry,
 * signature), in front of a VPC function that reads the stores on EFS (read-only), called through
 * an alias that holds the stage's provisioned concurrency.
 *
 * Tokens come from a Cognito user pool created here, or, with the context values `jwtIssuer` and
 * `jwtAudience` (comma-separated), from an existing issuer.
 */
export function Api({ stack, app }: StackContext) {
  const settings = stageSettings(app.stage);
  const { vpc, accessPoint } = use(Storage);
  const embedding = use(Embedding);
  const { photos } = use(Pipeline);
  const removalPolicy = settings.removal === "retain" ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
  const jwt = jwtConfig(stack, removalPolicy);

  const securityGroup = new ec2.SecurityGroup(stack, "ApiSecurityGroup", {
    vpc,
    description: "photo-clusters API: NFS to the embeddings file system only",
    allowAllOutbound: false,
  });
  const functionLogs = new logs.LogGroup(stack, "ApiFunctionLogs", { retention: settings.logRetentionDays, removalPolicy });
  const fn = new SstFunction(stack, "ApiFunction", {
    handler: "packages/functions/src/api.handler",
    description: "Answers the clusters and similar-images queries from the stores on EFS",
    timeout: settings.api.timeoutSeconds,
    memorySize: settings.api.memoryMb,
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    securityGroups: [securityGroup],
    filesystem: efsMount(accessPoint, DATA_DIR, "read"),
    environment: {
      DATA_DIR,
      ...embedding.modelEnv,
      JWT_ISSUER: jwt.issuer,
      JWT_AUDIENCE: jwt.audience.join(","),
      PHOTOS_BUCKET: photos.bucketName,
      // The exact path's budget is a share of it (apiExactBudget).
      API_TIMEOUT_SECONDS: String(settings.api.timeoutSeconds),
    },
    logGroup: functionLogs,
  });
  // The presigned POSTs of `POST /users/{userId}/uploads` carry this role's authority: putting photos
  // under users/ and nothing else (each form's policy then pins one key, type and size range).
  // `DELETE /users/{userId}/images/{imageId}` deletes the caller's photo with it too, under users/ only.
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ["s3:PutObject", "s3:DeleteObject"], resources: [photos.arnForObjects(`${PHOTOS_PREFIX}*`)] }));
  suppress(fn, [
    ...LAMBDA_MANAGED_POLICIES,
    ...XRAY_TRACING,
    {
      id: "AwsSolutions-IAM5",
      reason:
        "The API signs uploads for any photo name of the caller (users/<userId>/<name>.<ext>, unknown in advance), each signed form's policy pinning one key under users/, and deletes a photo the caller owns (its key read from the caller's own store, after the token names that user).",
      appliesTo: [{ regex: "/^Resource::<Photos[0-9A-F]+\\.Arn>\\/users\\/\\*$/" }],
    },
  ]);
  const warm = settings.api.provisionedConcurrency;
  const alias = new lambda.Alias(stack, "ApiLive", {
    aliasName: "live",
    version: fn.currentVersion,
    // 0 (development) leaves the alias on demand; CloudFormation rejects an explicit 0.
    provisionedConcurrentExecutions: warm.min > 0 ? warm.min : undefined,
  });
  if (warm.min > 0) {
    // Target tracking on ProvisionedConcurrencyUtilization, through Lambda's service-linked role
    // (no role of ours): more warm instances before requests spill over to cold starts.
    alias.addAutoScaling({ minCapacity: warm.min, maxCapacity: warm.max }).scaleOnUtilization({ utilizationTarget: warm.utilizationTarget });
  }

  const httpApi = new apigw.HttpApi(stack, "HttpApi", {
    description: "photo-clusters: clusters and similar images of a user's photos",
    createDefaultStage: false,
    // Pages of the stage's web origins may call the API (with a bearer token, no cookies).
    corsPreflight: settings.browserOrigins.length
      ? {
          allowOrigins: settings.browserOrigins,
          allowMethods: [apigw.CorsHttpMethod.GET, apigw.CorsHttpMethod.POST],
          allowHeaders: ["authorization", "content-type"],
          maxAge: Duration.hours(1),
        }
      : undefined,
    defaultAuthorizer: new HttpJwtAuthorizer("Jwt", jwt.issuer, { jwtAudience: jwt.audience }),
  });
  const accessLogs = new logs.LogGroup(stack, "HttpApiAccessLogs", { retention: settings.logRetentionDays, removalPolicy });
  const stage = new apigw.HttpStage(stack, "DefaultStage", {
    httpApi,
    stageName: "$default",
    autoDeploy: true,
    throttle: settings.api.throttle,
    accessLogSettings: {
      destination: new apigw.LogGroupLogDestination(accessLogs),
      format: AccessLogFormat.custom(
        JSON.stringify({
          requestId: "$context.requestId",
          ip: "$context.identity.sourceIp",
          time: "$context.requestTime",
          routeKey: "$context.routeKey",
          status: "$context.status",
          latency: "$context.responseLatency",
          sub: "$context.authorizer.claims.sub",
          authError: "$context.authorizer.error",
          integrationError: "$context.integrationErrorMessage",
        }),
      ),
    },
  });
  const integration = new HttpLambdaIntegration("ApiLiveIntegration", alias);
  for (const [method, path] of ROUTES) httpApi.addRoutes({ path, methods: [apigw.HttpMethod[method]], integration });

  stack.addOutputs({
    ApiUrl: stage.url,
    JwtIssuer: jwt.issuer,
    JwtAudience: jwt.audience.join(","),
    ApiFunctionName: fn.functionName,
    ApiLogGroup: functionLogs.logGroupName,
    ApiAccessLogGroup: accessLogs.logGroupName,
    ...jwt.outputs,
  });
  return { httpApi, stage, url: stage.url, fn, alias, jwt };
}

function jwtConfig(stack: StackContext["stack"], removalPolicy: RemovalPolicy) {
  const issuer = stack.node.tryGetContext("jwtIssuer");
  const audience = stack.node.tryGetContext("jwtAudience");
  if (issuer || audience) {
    if (typeof issuer !== "string" || !issuer.startsWith("https://") || typeof audience !== "string" || !audience) {
      throw new Error("context jwtIssuer (an https:// URL) and jwtAudience (comma-separated) must be given together");
    }
    return { issuer, audience: audience.split(",").map((a) => a.trim()), outputs: {} as Record<string, string> };
  }

  const userPool = new cognito.UserPool(stack, "Users", {
    // Accounts are provisioned by an administrator (see README); nobody signs themselves up.
    selfSignUpEnabled: false,
    signInAliases: { email: true },
    passwordPolicy: { minLength: 12, requireLowercase: true, requireUppercase: true, requireDigits: true, requireSymbols: true },
    mfa: cognito.Mfa.OPTIONAL,
    mfaSecondFactor: { sms: false, otp: true },
    accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
    removalPolicy,
  });
  suppress(userPool, [
    {
      id: "AwsSolutions-COG3",
      reason:
        "Threat protection (advanced security) needs the Cognito Plus plan, billed per active user. Self sign-up is off and " +
        "accounts are created by an administrator, so there is no open sign-in surface for it to watch yet; turn it on with self sign-up.",
    },
  ]);
  const client = userPool.addClient("AppClient", {
    generateSecret: false,
    authFlows: { userSrp: true, adminUserPassword: true },
    preventUserExistenceErrors: true,
  });
  return {
    issuer: `https://cognito-idp.${stack.region}.amazonaws.com/${userPool.userPoolId}`,
    audience: [client.userPoolClientId],
    outputs: { UserPoolId: userPool.userPoolId, UserPoolClientId: client.userPoolClientId } as Record<string, string>,
  };
}
