import { Duration } from "aws-cdk-lib";
import type * as apigw from "aws-cdk-lib/aws-apigatewayv2";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type { StageSettings } from "./stages.ts";

const FIVE_MINUTES = Duration.minutes(5);
const WIDTH = 8;
const HEIGHT = 6;

export interface DashboardParts {
  /** The functions' EMF namespace, `photo-clusters/<stage>`. */
  namespace: string;
  alarms: cloudwatch.IAlarm[];
  settings: StageSettings;
  queues: { uploads: sqs.IQueue; deadLetters: sqs.IQueue };
  functions: Record<"Poller" | "Writer" | "Api", lambda.IFunction>;
  embedding: { endpointName: string; variantName: string };
  fileSystemId: string;
  httpApi: apigw.IHttpApi;
  /** The API's alias when it has provisioned concurrency. */
  alias?: lambda.Alias;
}

/** A metric of the SageMaker endpoint's one variant (AWS/SageMaker). */
export function endpointMetric(embedding: DashboardParts["embedding"], metricName: string, statistic: string, period = FIVE_MINUTES) {
  return new cloudwatch.Metric({
    namespace: "AWS/SageMaker",
    metricName,
    dimensionsMap: { EndpointName: embedding.endpointName, VariantName: embedding.variantName },
    statistic,
    period,
  });
}

/**
 * The stage's dashboard, top to bottom: alarm states, ingestion, embedding, the store, the API,
 * and the three functions. The functions' own metrics are found by SEARCH over the stage's
 * namespace, by metric name and dimension names only, so a metric still shows if it moves service.
 */
export function dashboardWidgets(p: DashboardParts): cloudwatch.IWidget[][] {
  // One line per service (and per `extra` dimension value) of a metric of the namespace.
  const search = (metricName: string, statistic: string, extra?: "code" | "route") => {
    const dimensions = ["service", ...(extra ? [extra] : [])].join(",");
    return new cloudwatch.SearchExpression({
      expression: `SEARCH('{"${p.namespace}",${dimensions}} MetricName="${metricName}"', '${statistic}', 300)`,
      label: extra ? `${metricName} \${PROP('Dim.${extra}')}` : `${metricName} ${statistic}`,
    });
  };
  const graph = (title: string, left: cloudwatch.IMetric[], more: Partial<cloudwatch.GraphWidgetProps> = {}) =>
    new cloudwatch.GraphWidget({ title, left, width: WIDTH, height: HEIGHT, ...more });
  const perFunction = (metric: (fn: lambda.IFunction) => cloudwatch.Metric) =>
    Object.entries(p.functions).map(([name, fn]) => metric(fn).with({ label: name }));
  const efs = (metricName: string, statistic: string, period = FIVE_MINUTES) =>
    new cloudwatch.Metric({ namespace: "AWS/EFS", metricName, dimensionsMap: { FileSystemId: p.fileSystemId }, statistic, period });
  // Bytes per second from a byte count; ids differ, since expressions on one graph share a namespace of ids.
  const perSecond = (id: string, metricName: string, label: string) =>
    new cloudwatch.MathExpression({ expression: `${id} / PERIOD(${id})`, usingMetrics: { [id]: efs(metricName, "Sum") }, label, period: FIVE_MINUTES });
  const header = (markdown: string) => new cloudwatch.TextWidget({ markdown, width: 24, height: 1 });
  const { uploads, deadLetters } = p.queues;

  return [
    [new cloudwatch.AlarmStatusWidget({ title: "Alarms", alarms: p.alarms, width: 24, height: 3 })],
    [header("## Ingestion: queue → poller → writer")],
    [
      graph("Photos stored, skipped, failed (per 5 min)", [search("PhotosStored", "Sum"), search("PhotosSkipped", "Sum"), search("PhotosFailed", "Sum")]),
      graph("Photos failed, by reason code", [search("PhotosFailed", "Sum", "code")], { stacked: true }),
      graph("Queue depth", [
        uploads.metricApproximateNumberOfMessagesVisible({ label: "uploads waiting", statistic: "Maximum" }),
        uploads.metricApproximateNumberOfMessagesNotVisible({ label: "uploads in flight", statistic: "Maximum" }),
        deadLetters.metricApproximateNumberOfMessagesVisible({ label: "dead letters", statistic: "Maximum" }),
      ]),
    ],
    [
      graph(
        "Age of the oldest message (s)",
        [
          uploads.metricApproximateAgeOfOldestMessage({ label: "uploads", statistic: "Maximum" }),
          deadLetters.metricApproximateAgeOfOldestMessage({ label: "dead letters", statistic: "Maximum" }),
        ],
        { leftAnnotations: [{ value: p.settings.queue.oldestMessageAlarmSeconds, label: "alarm" }] },
      ),
      graph("Embedding latency (ms)", [search("EmbeddingLatency", "p50"), search("EmbeddingLatency", "p99")]),
      graph("Embedding retries and throttles", [search("EmbeddingRetries", "Sum"), search("EmbeddingThrottles", "Sum")]),
    ],
    [header("## Embedding endpoint (SageMaker serverless)")],
    [
      graph("Endpoint invocations and errors", [
        endpointMetric(p.embedding, "Invocations", "Sum").with({ label: "invocations" }),
        endpointMetric(p.embedding, "Invocation4XXErrors", "Sum").with({ label: "4xx" }),
        endpointMetric(p.embedding, "Invocation5XXErrors", "Sum").with({ label: "5xx" }),
      ]),
      graph("Endpoint model setup time (cold starts)", [
        endpointMetric(p.embedding, "ModelSetupTime", "Average").with({ label: "average" }),
        endpointMetric(p.embedding, "ModelSetupTime", "Maximum").with({ label: "maximum" }),
      ]),
      graph("Endpoint concurrency used (of its maximum)", [
        endpointMetric(p.embedding, "ServerlessConcurrentExecutionsUtilization", "Maximum").with({ label: "maximum" }),
      ]),
    ],
    [header("## Embedding store (EFS)")],
    [
      graph("Store write latency and lock wait (ms)", [search("StoreWriteLatency", "p99"), search("LockWait", "p99"), search("LockWait", "Maximum")]),
      graph("Graph catch-ups and compactions", [search("GraphCatchUps", "Sum"), search("Compactions", "Sum")]),
      graph(
        "EFS client connections and throughput",
        [efs("ClientConnections", "Sum", Duration.minutes(1)).with({ label: "client connections (per minute)" })],
        {
          right: [
            perSecond("total", "TotalIOBytes", "total bytes/s"),
            perSecond("read", "DataReadIOBytes", "read bytes/s"),
            perSecond("written", "DataWriteIOBytes", "write bytes/s"),
          ],
        },
      ),
    ],
    [header("## API")],
    [
      graph(
        "API latency p99 (ms)",
        [p.httpApi.metricLatency({ statistic: "p99", label: "API Gateway (what callers wait)" }), search("ApiLatency", "p99", "route")],
        { leftAnnotations: [{ value: p.settings.api.p99LatencyAlarmMs, label: "alarm" }] },
      ),
      graph("View cache hits and misses", [search("ViewCacheHits", "Sum"), search("ViewCacheMisses", "Sum")]),
      graph(
        "Requests and HTTP errors",
        [p.httpApi.metricCount({ label: "requests" }), p.httpApi.metricClientError({ label: "4xx" }), p.httpApi.metricServerError({ label: "5xx" })],
        {
          right: p.alias ? [p.alias.metric("ProvisionedConcurrencyUtilization", { statistic: "Maximum", label: "provisioned concurrency used" })] : [],
        },
      ),
    ],
    [header("## Functions: poller, writer, API")],
    [
      graph(
        "Lambda errors",
        perFunction((fn) => fn.metricErrors({ statistic: "Sum" })),
      ),
      graph(
        "Lambda throttles",
        perFunction((fn) => fn.metricThrottles({ statistic: "Sum" })),
      ),
      graph(
        "Lambda duration p99 (ms)",
        perFunction((fn) => fn.metricDuration({ statistic: "p99" })),
      ),
    ],
  ];
}
