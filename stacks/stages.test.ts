import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { descriptorFileText } from "../packages/core/src/descriptor-file.ts";
import { mobilenetV2Int8, resnet50V1 } from "../packages/core/src/models.ts";
import { apiConfig, writerConfig } from "../packages/functions/src/config.ts";
import { Api } from "./Api.ts";
import { Embedding } from "./Embedding.ts";
import { Monitoring } from "./Monitoring.ts";
import { nagErrors } from "./nag.ts";
import { Pipeline } from "./Pipeline.ts";
import { pollerConcurrency, STAGES, stageSettings, validate } from "./stages.ts";
import { Storage } from "./Storage.ts";
import { lambdaByHandler, only, resources, removeSynthOutput, synthStage, API, POLLER, WRITER } from "./test-helpers.ts";

afterAll(removeSynthOutput);

describe("stage settings", () => {
  it("keep production data and dispose of everything elsewhere", () => {
    expect(stageSettings("prod").removal).toBe("retain");
    expect(stageSettings("alice").removal).toBe("destroy");
    expect(stageSettings("alice").api.provisionedConcurrency).toMatchObject({ min: 0, max: 0 });
    expect(stageSettings("prod").api.provisionedConcurrency.min).toBeGreaterThan(0);
  });

  it("keep the photos in flight between half the endpoint's concurrency and all of it, for every size it may have", () => {
    for (let endpoint = 2; endpoint <= 200; endpoint++) {
      const { invocations, perInvocation } = pollerConcurrency(endpoint);
      expect({ endpoint, ok: invocations >= 2 && invocations * perInvocation <= endpoint && invocations * perInvocation * 2 >= endpoint }).toEqual({
        endpoint,
        ok: true,
      });
    }
  });

  it("are all valid as written", () => {
    for (const [stage, settings] of Object.entries(STAGES)) expect(() => validate(stage, settings)).not.toThrow();
  });

  it("reject a writer that could outlive the poller waiting for it, naming the setting", () => {
    const bad = structuredClone(stageSettings("prod"));
    bad.writer.timeoutSeconds = bad.poller.timeoutSeconds;
    expect(() => validate("prod", bad)).toThrow(/writer\.timeoutSeconds/);
  });

  it("reject provisioned concurrency that cannot be scaled: min above max, a max without a min, a target outside 0.1..0.9", () => {
    for (const [min, max, utilizationTarget] of [
      [3, 2, 0.7],
      [0, 5, 0.7],
      [2, 10, 0.95],
      [1.5, 4, 0.7],
    ]) {
      const bad = structuredClone(stageSettings("prod"));
      bad.api.provisionedConcurrency = { min, max, utilizationTarget };
      expect(() => validate("prod", bad), `${min} ${max} ${utilizationTarget}`).toThrow(/api\.provisionedConcurrency/);
    }
  });

  it("reject a backlog alarm that one retried photo would raise by itself", () => {
    const bad = structuredClone(stageSettings("prod"));
    bad.queue.oldestMessageAlarmSeconds = bad.queue.deliveryDelaySeconds + 6 * bad.poller.timeoutSeconds;
    expect(() => validate("prod", bad)).toThrow(/queue\.oldestMessageAlarmSeconds/);
  });

  it("reject an endpoint concurrency the SQS event source cannot match", () => {
    const bad = structuredClone(stageSettings("prod"));
    bad.endpoint.maxConcurrency = 1;
    expect(() => validate("prod", bad)).toThrow(/endpoint\.maxConcurrency/);
  });
});

// One synthesis per case below: they run one after another in this file's process.
describe("a development stage", () => {
  it("destroys its data, has no provisioned concurrency to scale, gets its own dashboard and alarm thresholds, and passes cdk-nag", async () => {
    const dev = stageSettings("dev");
    const synth = await synthStage("dev");
    expect(nagErrors(synth.assembly)).toEqual([]);

    const pipeline = synth.template(Pipeline);
    for (const bucket of Object.values(resources(pipeline, "AWS::S3::Bucket"))) expect(bucket.DeletionPolicy).toBe("Delete");
    expect(only(resources(synth.template(Storage), "AWS::EFS::FileSystem")).DeletionPolicy).toBe("Delete");
    const queue = Object.values(resources(pipeline, "AWS::SQS::Queue")).find((q) => q.Properties.RedrivePolicy)!;
    expect(queue.Properties.DelaySeconds).toBe(dev.queue.deliveryDelaySeconds);
    const mapping = only(resources(pipeline, "AWS::Lambda::EventSourceMapping")).Properties;
    expect(mapping.ScalingConfig.MaximumConcurrency).toBe(dev.endpoint.maxConcurrency);

    const alias = only(resources(synth.template(Api), "AWS::Lambda::Alias"));
    expect(alias.Properties.ProvisionedConcurrencyConfig).toBeUndefined();
    // On demand: nothing to scale.
    synth.template(Api).resourceCountIs("AWS::ApplicationAutoScaling::ScalableTarget", 0);

    // Its own dashboard, metric namespace and alarm thresholds.
    const monitoring = synth.template(Monitoring);
    monitoring.hasResourceProperties("AWS::CloudWatch::Dashboard", { DashboardName: "dev-photo-clusters" });
    monitoring.hasResourceProperties("AWS::CloudWatch::Alarm", { MetricName: "Latency", Threshold: dev.api.p99LatencyAlarmMs });
    monitoring.hasResourceProperties("AWS::CloudWatch::Alarm", { MetricName: "ApproximateAgeOfOldestMessage", Threshold: dev.queue.oldestMessageAlarmSeconds });
    monitoring.hasResourceProperties("AWS::CloudWatch::Alarm", { Namespace: "photo-clusters/dev", MetricName: "EmbeddingThrottles" });
    const [, poller] = lambdaByHandler(pipeline, POLLER);
    expect(poller.Properties.Environment.Variables.METRICS_NAMESPACE).toBe("photo-clusters/dev");
  });
});

describe("a stage with a web app", () => {
  it("lets exactly its origins call the API and post uploads to the bucket; other stages allow no origin", async () => {
    const origins = ["https://app.example.com", "http://localhost:5173"];
    STAGES.web = { ...stageSettings("dev"), browserOrigins: origins };
    const synth = await synthStage("web").finally(() => delete STAGES.web);
    expect(nagErrors(synth.assembly)).toEqual([]);
    const photos = Object.values(resources(synth.template(Pipeline), "AWS::S3::Bucket")).filter((b) => b.Properties.CorsConfiguration);
    expect(photos).toHaveLength(1);
    expect(photos[0].Properties.CorsConfiguration.CorsRules).toEqual([
      { AllowedMethods: ["POST"], AllowedOrigins: origins, AllowedHeaders: ["*"], ExposedHeaders: ["ETag", "Location"], MaxAge: 3000 },
    ]);
    expect(only(resources(synth.template(Api), "AWS::ApiGatewayV2::Api")).Properties.CorsConfiguration).toEqual({
      AllowOrigins: origins,
      AllowMethods: ["GET", "POST"],
      AllowHeaders: ["authorization", "content-type"],
      MaxAge: 3600,
    });

    const prod = await synthStage("prod");
    for (const bucket of Object.values(resources(prod.template(Pipeline), "AWS::S3::Bucket"))) expect(bucket.Properties.CorsConfiguration).toBeUndefined();
    expect(only(resources(prod.template(Api), "AWS::ApiGatewayV2::Api")).Properties.CorsConfiguration).toBeUndefined();
  });

  it("refuses a wildcard, a path or a malformed host as an origin, and localhost in production, naming the setting", () => {
    for (const origin of ["*", "https://app.example.com/", "http://app.example.com", "https://*.example.com", "https://.", "https://a.com:99999", "null"]) {
      expect(() => validate("web", { ...stageSettings("dev"), browserOrigins: [origin] }), origin).toThrow(/browserOrigins: .* must be an https origin/);
    }
    expect(() => validate("web", { ...stageSettings("dev"), browserOrigins: ["http://[::1]:8080", "https://app.example.com:8443"] })).not.toThrow();
    expect(() => validate("prod", { ...stageSettings("prod"), browserOrigins: ["http://localhost:3000"] })).toThrow(/only in a disposable stage/);
  });
});

describe("configuration by context", () => {
  it("uses a prebuilt model image when modelImageUri is given, and pulls from that repository only", async () => {
    const uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/photo-clusters/model-server:resnet50-v1-12";
    const synth = await synthStage("ci", { context: { modelImageUri: uri } });
    const t = synth.template(Embedding);
    expect(only(resources(t, "AWS::SageMaker::Model")).Properties.PrimaryContainer.Image).toBe(uri);
    const statements = only(resources(t, "AWS::IAM::Policy")).Properties.PolicyDocument.Statement;
    expect(statements).toContainEqual(
      expect.objectContaining({
        Resource: { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":ecr:us-east-1:123456789012:repository/photo-clusters/model-server"]] },
      }),
    );
    expect(nagErrors(synth.assembly)).toEqual([]);
  });

  it("trusts an existing issuer and audience instead of creating a user pool", async () => {
    const issuer = "https://auth.example.com/";
    const synth = await synthStage("ci", { context: { jwtIssuer: issuer, jwtAudience: "photo-app,photo-web" } });
    const t = synth.template(Api);
    t.resourceCountIs("AWS::Cognito::UserPool", 0);
    t.hasResourceProperties("AWS::ApiGatewayV2::Authorizer", { JwtConfiguration: { Issuer: issuer, Audience: ["photo-app", "photo-web"] } });
    const [, fn] = lambdaByHandler(t, API);
    expect(fn.Properties.Environment.Variables).toMatchObject({ JWT_ISSUER: issuer, JWT_AUDIENCE: "photo-app,photo-web" });
  });

  it("places the VPC in the availability zones it is given", async () => {
    const synth = await synthStage("ci", { context: { availabilityZones: "us-east-1c, us-east-1d" } });
    const zones = Object.values(resources(synth.template(Storage), "AWS::EC2::Subnet")).map((s) => s.Properties.AvailabilityZone);
    expect(zones.sort()).toEqual(["us-east-1c", "us-east-1d"]);
  });

  it("keeps the previous model answering in the writer and the API during a model switch", async () => {
    const synth = await synthStage("ci", { context: { previousModelId: "mobilenetv2-12-int8" } });
    const [, api] = lambdaByHandler(synth.template(Api), API);
    const [, writer] = lambdaByHandler(synth.template(Pipeline), WRITER);
    for (const fn of [api, writer])
      expect(fn.Properties.Environment.Variables).toMatchObject({ MODEL_ID: "resnet50-v1-12", PREVIOUS_MODEL_ID: "mobilenetv2-12-int8" });
  });

  it("hands a calibrated descriptor of the served model to the writer and the API, and refuses one of another model, a mean-centred one included", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "descriptor-"));
    try {
      const file = path.join(dir, "resnet.json");
      fs.writeFileSync(file, descriptorFileText({ ...resnet50V1, defaults: { ...resnet50V1.defaults, threshold: 0.9 } }));
      const synth = await synthStage("ci", { context: { modelDescriptor: file } });
      const [, api] = lambdaByHandler(synth.template(Api), "packages/functions/src/api.handler");
      const [, writer] = lambdaByHandler(synth.template(Pipeline), "packages/functions/src/writer.handler");
      const env = {
        ...api.Properties.Environment.Variables,
        JWT_ISSUER: "https://issuer.example",
        JWT_AUDIENCE: "a",
        PHOTOS_BUCKET: "photos",
        AWS_REGION: "us-east-1",
      };
      expect(apiConfig(env).model.defaults.threshold).toBe(0.9);
      expect(writerConfig({ ...writer.Properties.Environment.Variables, DATA_DIR: "/d" }).model.defaults.threshold).toBe(0.9);

      fs.writeFileSync(file, descriptorFileText(mobilenetV2Int8));
      await expect(synthStage("ci", { context: { modelDescriptor: file } })).rejects.toThrow(
        /model.id "mobilenetv2-12-int8" is not the served model "resnet50-v1-12"/,
      );
      fs.writeFileSync(file, descriptorFileText({ ...resnet50V1, id: "resnet50-v1-12-centred-00000000", postprocess: { center: new Array(2048).fill(0) } }));
      await expect(synthStage("ci", { context: { modelDescriptor: file } })).rejects.toThrow(
        /model.id "resnet50-v1-12-centred-00000000" is not the served model/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("mails the dead-letter alarm to the address it is given", async () => {
    const synth = await synthStage("ci", { context: { alarmEmail: "oncall@example.com" } });
    const t = synth.template(Pipeline);
    const [topicId] = Object.keys(resources(t, "AWS::SNS::Topic"));
    t.hasResourceProperties("AWS::SNS::Subscription", { Protocol: "email", Endpoint: "oncall@example.com", TopicArn: { Ref: topicId } });
  });

  it("refuses a previous model it does not know, naming the ones it does", async () => {
    await expect(synthStage("ci", { context: { previousModelId: "mobilenet-v9" } })).rejects.toThrow(
      /unknown model "mobilenet-v9"; known: mobilenetv2-12-int8/,
    );
  });

  it("refuses an issuer without an audience", async () => {
    await expect(synthStage("ci", { context: { jwtIssuer: "https://auth.example.com/" } })).rejects.toThrow(/jwtAudience/);
  });
});
