import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Api } from "./Api.ts";
import { Embedding } from "./Embedding.ts";
import { Monitoring } from "./Monitoring.ts";
import { Pipeline } from "./Pipeline.ts";
import { stageSettings } from "./stages.ts";
import { Storage } from "./Storage.ts";
import { lambdaByHandler, only, removeSynthOutput, resolveImports, resources, roleStatements, synthStage, API, POLLER, WRITER } from "./test-helpers.ts";

afterAll(removeSynthOutput);

const prod = stageSettings("prod");
let synth: Awaited<ReturnType<typeof synthStage>>;

beforeAll(async () => {
  synth = await synthStage("prod");
});

/** Logical ids of the things the alarms and the dashboard watch, in their own stacks. */
function ids() {
  const pipeline = synth.template(Pipeline);
  const queues = Object.entries(resources(pipeline, "AWS::SQS::Queue"));
  return {
    poller: lambdaByHandler(pipeline, POLLER)[0],
    writer: lambdaByHandler(pipeline, WRITER)[0],
    api: lambdaByHandler(synth.template(Api), API)[0],
    uploads: queues.find(([, q]) => q.Properties.RedrivePolicy)![0],
    deadLetters: queues.find(([, q]) => !q.Properties.RedrivePolicy)![0],
    topic: Object.keys(resources(pipeline, "AWS::SNS::Topic"))[0],
    httpApi: Object.keys(resources(synth.template(Api), "AWS::ApiGatewayV2::Api"))[0],
    fileSystem: Object.keys(resources(synth.template(Storage), "AWS::EFS::FileSystem"))[0],
    endpointName: only(resources(synth.template(Embedding), "AWS::SageMaker::Endpoint")).Properties.EndpointName,
  };
}

function alarms(): any[] {
  return Object.values(resources(synth.template(Monitoring), "AWS::CloudWatch::Alarm")).map((a) => resolveImports(synth.assembly, a.Properties));
}

function alarmOn(namespace: string, metricName: string, dimension?: string): any {
  const found = alarms().filter((a) => a.Namespace === namespace && a.MetricName === metricName && (!dimension || a.Dimensions[0].Value === dimension));
  expect(found, `${namespace} ${metricName} ${dimension ?? ""}`).toHaveLength(1);
  return found[0];
}

describe("tracing", () => {
  it("is active on the poller, the writer and the API, which are told the stage's metric namespace", () => {
    for (const [stack, handler] of [
      [Pipeline, POLLER],
      [Pipeline, WRITER],
      [Api, API],
    ] as const) {
      const [, fn] = lambdaByHandler(synth.template(stack), handler);
      expect(fn.Properties.TracingConfig, handler).toEqual({ Mode: "Active" });
      expect(fn.Properties.Environment.Variables.METRICS_NAMESPACE, handler).toBe("photo-clusters/prod");
    }
  });

  it("lets each function send trace segments, the only thing it may do on every resource", () => {
    for (const [stack, handler] of [
      [Pipeline, POLLER],
      [Pipeline, WRITER],
      [Api, API],
    ] as const) {
      const t = synth.template(stack);
      const unscoped = roleStatements(t, lambdaByHandler(t, handler)[1]).filter((s) => s.Resource === "*");
      expect(unscoped, handler).toEqual([{ Effect: "Allow", Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], Resource: "*" }]);
    }
  });
});

describe("the alarms", () => {
  it("all tell the stage's alarm topic, and stay quiet when their metric has no data", () => {
    const { topic } = ids();
    expect(
      alarms()
        .map((a) => a.AlarmName)
        .sort(),
    ).toEqual(
      [
        "ApiErrors",
        "ApiLatencyP99",
        "ApiThrottles",
        "Endpoint5xx",
        "EndpointThrottles",
        "PollerErrors",
        "PollerThrottles",
        "UploadsOldestMessage",
        "WriterErrors",
        "WriterThrottles",
      ].map((name) => `prod-photo-clusters-${name}`),
    );
    for (const alarm of alarms()) {
      expect(alarm.AlarmActions, alarm.MetricName).toEqual([topic]);
      expect(alarm.TreatMissingData, alarm.MetricName).toBe("notBreaching");
    }
  });

  it("fire when the oldest upload has waited longer than the stage allows", () => {
    const alarm = alarmOn("AWS/SQS", "ApproximateAgeOfOldestMessage", `${ids().uploads}.QueueName`);
    expect(alarm).toMatchObject({ Statistic: "Maximum", Threshold: prod.queue.oldestMessageAlarmSeconds, ComparisonOperator: "GreaterThanThreshold" });
  });

  it("fire on any error or throttle of the poller, the writer and the API", () => {
    const { poller, writer, api } = ids();
    for (const fn of [poller, writer, api]) {
      for (const metric of ["Errors", "Throttles"]) {
        expect(alarmOn("AWS/Lambda", metric, fn)).toMatchObject({
          Statistic: "Sum",
          Period: 300,
          Threshold: 1,
          ComparisonOperator: "GreaterThanOrEqualToThreshold",
          EvaluationPeriods: 1,
        });
      }
    }
  });

  it("fire when the endpoint throttles the poller, or answers 5xx in two periods in a row", () => {
    const throttles = alarmOn("photo-clusters/prod", "EmbeddingThrottles");
    expect(throttles).toMatchObject({ Dimensions: [{ Name: "service", Value: "poller" }], Statistic: "Sum", Threshold: 1 });
    const variant = only(resources(synth.template(Embedding), "AWS::SageMaker::EndpointConfig")).Properties.ProductionVariants[0].VariantName;
    expect(alarmOn("AWS/SageMaker", "Invocation5XXErrors")).toMatchObject({
      Dimensions: [
        { Name: "EndpointName", Value: ids().endpointName },
        { Name: "VariantName", Value: variant },
      ],
      Statistic: "Sum",
      Threshold: 1,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
    });
  });

  it("fire when the HTTP API's p99 latency stays above the stage's limit for 15 minutes", () => {
    expect(alarmOn("AWS/ApiGateway", "Latency", ids().httpApi)).toMatchObject({
      ExtendedStatistic: "p99",
      Period: 300,
      EvaluationPeriods: 3,
      Threshold: prod.api.p99LatencyAlarmMs,
      ComparisonOperator: "GreaterThanThreshold",
    });
  });
});

describe("the dashboard", () => {
  /** The dashboard's widgets, with every reference to a resource written as its logical id (see resolveImports). */
  function widgets(): any[] {
    const dashboard = only(resources(synth.template(Monitoring), "AWS::CloudWatch::Dashboard")).Properties;
    const parts = resolveImports(synth.assembly, dashboard.DashboardBody["Fn::Join"][1]) as any[];
    const body = parts.map((p) => (typeof p === "string" ? p : (p.Ref ?? p["Fn::GetAtt"]?.join(".")))).join("");
    return JSON.parse(body).widgets;
  }
  const graphs = () =>
    widgets()
      .filter((w) => w.type === "metric")
      .flatMap((w) => w.properties.metrics) as any[][];
  const searches = () =>
    graphs()
      .map((m) => m[0].expression)
      .filter(Boolean) as string[];
  const shows = (namespace: string, metricName: string, ...dimensions: string[]) =>
    graphs().some((m) => m[0] === namespace && m[1] === metricName && dimensions.every((d, i) => m[2 + i] === d));

  it("is the stage's own, and shows every alarm's state", () => {
    expect(only(resources(synth.template(Monitoring), "AWS::CloudWatch::Dashboard")).Properties.DashboardName).toBe("prod-photo-clusters");
    const alarmIds = Object.keys(resources(synth.template(Monitoring), "AWS::CloudWatch::Alarm")).map((id) => `${id}.Arn`);
    expect(
      widgets()
        .find((w) => w.type === "alarm")
        .properties.alarms.sort(),
    ).toEqual(alarmIds.sort());
  });

  it("shows every metric the functions write, per service, from the stage's namespace", () => {
    const contract = [
      "PhotosStored",
      "PhotosSkipped",
      "PhotosFailed",
      "EmbeddingLatency",
      "EmbeddingRetries",
      "EmbeddingThrottles",
      "StoreWriteLatency",
      "LockWait",
      "GraphCatchUps",
      "Compactions",
      "ApiLatency",
      "ViewCacheHits",
      "ViewCacheMisses",
    ];
    for (const name of contract) {
      expect(
        searches().some((s) => s.startsWith(`SEARCH('{"photo-clusters/prod",service`) && s.includes(`MetricName="${name}"`)),
        name,
      ).toBe(true);
    }
    // Failures by reason code and API latency by route have a line per value of that dimension.
    expect(searches()).toContain(`SEARCH('{"photo-clusters/prod",service,code} MetricName="PhotosFailed"', 'Sum', 300)`);
    expect(searches()).toContain(`SEARCH('{"photo-clusters/prod",service,route} MetricName="ApiLatency"', 'p99', 300)`);
  });

  it("shows the depth and the oldest message's age of the queue and of its dead-letter queue", () => {
    const { uploads, deadLetters } = ids();
    for (const queue of [uploads, deadLetters]) {
      expect(shows("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", `${queue}.QueueName`), queue).toBe(true);
      expect(shows("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", `${queue}.QueueName`), queue).toBe(true);
    }
  });

  it("shows errors, throttles and duration of the poller, the writer and the API", () => {
    const { poller, writer, api } = ids();
    for (const fn of [poller, writer, api]) {
      for (const metric of ["Errors", "Throttles", "Duration"]) expect(shows("AWS/Lambda", metric, "FunctionName", fn), `${fn} ${metric}`).toBe(true);
    }
  });

  it("shows the endpoint's invocations, 4xx, 5xx and model setup time", () => {
    for (const metric of ["Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "ModelSetupTime"]) {
      expect(shows("AWS/SageMaker", metric, "EndpointName", ids().endpointName, "VariantName", "AllTraffic"), metric).toBe(true);
    }
  });

  it("shows the file system's client connections and throughput in bytes per second", () => {
    const { fileSystem } = ids();
    expect(shows("AWS/EFS", "ClientConnections", "FileSystemId", fileSystem)).toBe(true);
    expect(shows("AWS/EFS", "TotalIOBytes", "FileSystemId", fileSystem)).toBe(true);
    expect(graphs().some((m) => m[0].expression === "total / PERIOD(total)")).toBe(true);
  });
});

describe("the API's provisioned concurrency", () => {
  it("starts at the stage's minimum and is scaled between min and max on its utilization", () => {
    const t = synth.template(Api);
    const [aliasId] = Object.keys(resources(t, "AWS::Lambda::Alias"));
    const alias = only(resources(t, "AWS::Lambda::Alias"));
    expect(alias.Properties.ProvisionedConcurrencyConfig).toEqual({ ProvisionedConcurrentExecutions: prod.api.provisionedConcurrency.min });
    const [targetId] = Object.keys(resources(t, "AWS::ApplicationAutoScaling::ScalableTarget"));
    const target = only(resources(t, "AWS::ApplicationAutoScaling::ScalableTarget")).Properties;
    expect(target).toMatchObject({
      MinCapacity: prod.api.provisionedConcurrency.min,
      MaxCapacity: prod.api.provisionedConcurrency.max,
      ServiceNamespace: "lambda",
      ScalableDimension: "lambda:function:ProvisionedConcurrency",
    });
    // function:<name>:live, the name taken from the alias's ARN; scaled by Lambda's service-linked role.
    expect(JSON.stringify(target.ResourceId)).toContain(`{"Ref":"${aliasId}"}`);
    expect(target.ResourceId["Fn::Join"][1].at(-1)).toBe(":live");
    expect(JSON.stringify(target.RoleARN)).toContain("AWSServiceRoleForApplicationAutoScaling_LambdaConcurrency");
    expect(only(resources(t, "AWS::ApplicationAutoScaling::ScalingPolicy")).Properties).toMatchObject({
      PolicyType: "TargetTrackingScaling",
      ScalingTargetId: { Ref: targetId },
      TargetTrackingScalingPolicyConfiguration: {
        PredefinedMetricSpecification: { PredefinedMetricType: "LambdaProvisionedConcurrencyUtilization" },
        TargetValue: prod.api.provisionedConcurrency.utilizationTarget,
      },
    });
  });
});
