/**
 * Reads EMF lines back as CloudWatch would: one datum per metric and dimension set. For tests and
 * for anyone checking a local run's logs; CloudWatch itself does this in AWS.
 */
export interface MetricDatum {
  namespace: string;
  name: string;
  unit: string;
  dimensions: Record<string, string>;
  /** A count's value, or every latency recorded in that line. */
  values: number[];
}

export function readEmf(lines: Iterable<Record<string, unknown>>): MetricDatum[] {
  const data: MetricDatum[] = [];
  for (const line of lines) {
    const aws = line._aws as
      | { CloudWatchMetrics?: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }> }
      | undefined;
    for (const directive of aws?.CloudWatchMetrics ?? []) {
      for (const set of directive.Dimensions) {
        for (const metric of directive.Metrics) {
          const value = line[metric.Name] as number | number[];
          data.push({
            namespace: directive.Namespace,
            name: metric.Name,
            unit: metric.Unit,
            dimensions: Object.fromEntries(set.map((k) => [k, String(line[k])])),
            values: [value].flat(),
          });
        }
      }
    }
  }
  return data;
}

/** The sum of a metric's values over the data matching these exact dimensions. */
export function metricSum(data: MetricDatum[], name: string, dimensions: Record<string, string>): number {
  const same = (d: MetricDatum) =>
    d.name === name &&
    Object.keys(d.dimensions).length === Object.keys(dimensions).length &&
    Object.entries(dimensions).every(([k, v]) => d.dimensions[k] === v);
  return data.filter(same).reduce((sum, d) => sum + d.values.reduce((a, b) => a + b, 0), 0);
}
