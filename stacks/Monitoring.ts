import { type StackContext, use } from "sst/constructs";
import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as cloudwatchActions from "aws-cdk-lib/aws-cloudwatch-actions";
import { Api } from "./Api.ts";
import { dashboardWidgets, endpointMetric } from "./dashboard.ts";
import { Embedding } from "./Embedding.ts";
import { Pipeline } from "./Pipeline.ts";
import { stageSettings } from "./stages.ts";
import { Storage } from "./Storage.ts";

/** The CloudWatch namespace of the functions' own metrics (EMF lines in their logs); they read it from METRICS_NAMESPACE. */
export function metricsNamespace(stage: string): string {
  return `photo-clusters/${stage}`;
}

const FIVE_MINUTES = Duration.minutes(5);

/**
 * What an on-call engineer watches (docs/operating.md): the stage's alarms, all published to the
 * Pipeline's alarm topic, and one dashboard. Every alarm treats missing data as fine: the metrics
 * behind them are only published when something happens (an invocation, a request, a throttle).
 */
export function Monitoring({ stack, app }: StackContext) {
  const settings = stageSettings(app.stage);
  const { fileSystem } = use(Storage);
  const embedding = use(Embedding);
  const pipeline = use(Pipeline);
  const api = use(Api);
  const namespace = metricsNamespace(app.stage);
  const notify = new cloudwatchActions.SnsAction(pipeline.alarmTopic);

  const alarms: cloudwatch.Alarm[] = [];
  const alarm = (id: string, props: Omit<cloudwatch.AlarmProps, "evaluationPeriods"> & { evaluationPeriods?: number }) => {
    const created = new cloudwatch.Alarm(stack, id, {
      // Named so the page an on-call engineer gets says what fired: prod-photo-clusters-PollerErrors.
      alarmName: `${app.stage}-${app.name}-${id}`,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      ...props,
    });
    created.addAlarmAction(notify);
    alarms.push(created);
    return created;
  };

  alarm("UploadsOldestMessage", {
    alarmDescription: `An upload has waited in the queue over ${settings.queue.oldestMessageAlarmSeconds} s: the pipeline is behind or stuck`,
    metric: pipeline.uploads.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES, statistic: "Maximum" }),
    threshold: settings.queue.oldestMessageAlarmSeconds,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
  });

  const functions = { Poller: pipeline.poller, Writer: pipeline.writer, Api: api.fn };
  for (const [name, fn] of Object.entries(functions)) {
    alarm(`${name}Errors`, {
      alarmDescription: `The ${name.toLowerCase()} function failed (threw, timed out or ran out of memory) at least once in 5 minutes`,
      metric: fn.metricErrors({ period: FIVE_MINUTES, statistic: "Sum" }),
      threshold: 1,
    });
    alarm(`${name}Throttles`, {
      alarmDescription: `Lambda refused to run the ${name.toLowerCase()} function at least once in 5 minutes (concurrency exhausted)`,
      metric: fn.metricThrottles({ period: FIVE_MINUTES, statistic: "Sum" }),
      threshold: 1,
    });
  }

  // A serverless endpoint publishes no throttling metric of its own: the poller counts the
  // ThrottlingExceptions it receives. Its concurrency is sized never to be throttled, so one is news.
  alarm("EndpointThrottles", {
    alarmDescription: "The embedding endpoint throttled the poller at least once in 5 minutes (its concurrency, or the account's, is exhausted)",
    metric: new cloudwatch.Metric({
      namespace,
      metricName: "EmbeddingThrottles",
      dimensionsMap: { service: "poller" },
      period: FIVE_MINUTES,
      statistic: "Sum",
    }),
    threshold: 1,
  });
  // The poller retries a 5xx, so one alone is a blip; 5xx in two 5-minute periods in a row is not.
  alarm("Endpoint5xx", {
    alarmDescription: "The embedding endpoint answered 5xx in two 5-minute periods in a row",
    metric: endpointMetric(embedding, "Invocation5XXErrors", "Sum", FIVE_MINUTES),
    threshold: 1,
    evaluationPeriods: 2,
    datapointsToAlarm: 2,
  });
  // API Gateway's own latency, not the function's ApiLatency: it is what the caller waits, cold
  // starts, the JWT authorizer and the integration included, and it exists even when the function
  // crashes before it could write a metric line.
  alarm("ApiLatencyP99", {
    alarmDescription: `The HTTP API's p99 latency stayed above ${settings.api.p99LatencyAlarmMs} ms for 15 minutes`,
    metric: api.httpApi.metricLatency({ period: FIVE_MINUTES, statistic: "p99" }),
    threshold: settings.api.p99LatencyAlarmMs,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 3,
  });

  const dashboard = new cloudwatch.Dashboard(stack, "Dashboard", {
    dashboardName: `${app.stage}-${app.name}`,
    defaultInterval: Duration.hours(3),
    widgets: dashboardWidgets({
      namespace,
      alarms,
      settings,
      queues: { uploads: pipeline.uploads, deadLetters: pipeline.deadLetters },
      functions,
      embedding,
      fileSystemId: fileSystem.fileSystemId,
      httpApi: api.httpApi,
      alias: settings.api.provisionedConcurrency.min > 0 ? api.alias : undefined,
    }),
  });

  stack.addOutputs({ DashboardName: dashboard.dashboardName });
  return { dashboard, alarms };
}
