/**
 * Metrics as CloudWatch embedded metric format (EMF) lines: JSON that CloudWatch Logs turns into
 * metrics, and that reads as a log line locally. Values are kept in memory and written by `flush`,
 * once per invocation or request, so recording one costs an addition, never a write.
 *
 * Every metric has the dimension `service`. A metric recorded with more dimensions (a failure's
 * `code`, a request's `route`) is published under two dimension sets, [service] and [service, …],
 * so both the total and the breakdown exist. Lines are split only where dimension values differ.
 */
import { writeStdout } from "./logger.ts";

export type Unit = "Count" | "Milliseconds";
export type Dimensions = Record<string, string>;

export interface Metrics {
  count(name: string, value?: number, dimensions?: Dimensions): void;
  time(name: string, ms: number, dimensions?: Dimensions): void;
  /** Writes what was recorded since the last flush (nothing when nothing was) and forgets it. */
  flush(): void;
}

export interface EmfOptions {
  /** `photo-clusters/<stage>`. */
  namespace: string;
  service: "poller" | "writer" | "api";
  /** One JSON line each; the logs' own sink (default: stdout). */
  write?: (line: string) => void;
  clock?: () => number;
}

/** CloudWatch takes at most 100 values of one metric in one line. */
const MAX_VALUES = 100;

interface Group {
  dimensions: Dimensions;
  metrics: Map<string, { unit: Unit; values: number[] }>;
}

export function emfMetrics(options: EmfOptions): Metrics {
  const groups = new Map<string, Group>();
  const record = (name: string, unit: Unit, value: number, dimensions: Dimensions = {}) => {
    const id = JSON.stringify(dimensions);
    let group = groups.get(id);
    if (!group) {
      group = { dimensions, metrics: new Map() };
      groups.set(id, group);
    }
    const metric = group.metrics.get(name);
    if (!metric) group.metrics.set(name, { unit, values: [value] });
    else if (unit === "Count") metric.values[0] += value;
    else metric.values.push(value);
  };
  return {
    count: (name, value = 1, dimensions) => record(name, "Count", value, dimensions),
    time: (name, ms, dimensions) => record(name, "Milliseconds", Math.round(ms * 1000) / 1000, dimensions),
    flush() {
      if (groups.size === 0) return;
      const timestamp = (options.clock ?? Date.now)();
      const write = options.write ?? writeStdout;
      for (const line of lines([...groups.values()], options, timestamp)) write(JSON.stringify(line));
      groups.clear();
    },
  };
}

/** Groups packed into as few lines as their dimension values allow, each group one directive. */
function lines(groups: Group[], options: EmfOptions, timestamp: number): Array<Record<string, unknown>> {
  const out: Array<{ root: Record<string, unknown>; dims: Dimensions; directives: unknown[] }> = [];
  for (const group of groups) {
    for (let start = 0; ; start += MAX_VALUES) {
      const names = [...group.metrics].filter(([, m]) => m.values.length > start);
      if (names.length === 0) break;
      let line = out.find(
        (l) => !names.some(([name]) => name in l.root) && Object.entries(group.dimensions).every(([k, v]) => l.dims[k] === undefined || l.dims[k] === v),
      );
      if (!line) {
        line = { root: {}, dims: {}, directives: [] };
        out.push(line);
      }
      Object.assign(line.dims, group.dimensions);
      const keys = Object.keys(group.dimensions);
      line.directives.push({
        Namespace: options.namespace,
        Dimensions: keys.length > 0 ? [["service"], ["service", ...keys]] : [["service"]],
        Metrics: names.map(([name, m]) => ({ Name: name, Unit: m.unit })),
      });
      for (const [name, m] of names) {
        const values = m.values.slice(start, start + MAX_VALUES);
        line.root[name] = values.length === 1 ? values[0] : values;
      }
    }
  }
  return out.map((l) => ({ _aws: { Timestamp: timestamp, CloudWatchMetrics: l.directives }, service: options.service, ...l.dims, ...l.root }));
}

/** Records nothing: for callers that were given no metrics. */
export const noMetrics: Metrics = { count() {}, time() {}, flush() {} };
