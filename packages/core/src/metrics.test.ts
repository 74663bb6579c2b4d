import { describe, expect, it } from "vitest";
import { readEmf } from "./emf-reader.ts";
import { emfMetrics } from "./metrics.ts";

function recorder() {
  const lines: Array<Record<string, any>> = [];
  const metrics = emfMetrics({
    namespace: "photo-clusters/test",
    service: "poller",
    write: (line) => lines.push(JSON.parse(line)),
    clock: () => 1_700_000_000_000,
  });
  return { metrics, lines };
}

describe("EMF metrics", () => {
  it("sums counts and keeps each latency, published under [service] and [service, code] in one line per code", () => {
    // Prepare
    const { metrics, lines } = recorder();
    // Act
    metrics.count("PhotosFailed", 1, { code: "too_large" });
    metrics.count("PhotosFailed", 1, { code: "unreadable_image" });
    metrics.count("PhotosFailed", 1, { code: "too_large" });
    metrics.time("EmbeddingLatency", 12.5);
    metrics.time("EmbeddingLatency", 30);
    metrics.count("EmbeddingRetries", 0);
    metrics.flush();
    // Assess
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => l._aws.Timestamp === 1_700_000_000_000 && l.service === "poller")).toBe(true);
    const seen = readEmf(lines);
    expect(seen).toEqual(
      expect.arrayContaining([
        { namespace: "photo-clusters/test", name: "PhotosFailed", unit: "Count", dimensions: { service: "poller" }, values: [2] },
        { namespace: "photo-clusters/test", name: "PhotosFailed", unit: "Count", dimensions: { service: "poller", code: "too_large" }, values: [2] },
        { namespace: "photo-clusters/test", name: "PhotosFailed", unit: "Count", dimensions: { service: "poller", code: "unreadable_image" }, values: [1] },
        { namespace: "photo-clusters/test", name: "EmbeddingLatency", unit: "Milliseconds", dimensions: { service: "poller" }, values: [12.5, 30] },
        { namespace: "photo-clusters/test", name: "EmbeddingRetries", unit: "Count", dimensions: { service: "poller" }, values: [0] },
      ]),
    );
    // Latency is never published with a code: only the failures carry one.
    expect(seen.filter((m: any) => m.name === "EmbeddingLatency")).toHaveLength(1);
    expect(seen).toHaveLength(6);
  });

  it("writes nothing when nothing was recorded, and forgets what it flushed", () => {
    const { metrics, lines } = recorder();
    metrics.flush();
    metrics.count("PhotosStored", 3);
    metrics.flush();
    metrics.flush();
    expect(lines.map((l) => l.PhotosStored)).toEqual([3]);
  });

  it("splits more than 100 values of one metric across lines, as CloudWatch requires", () => {
    const { metrics, lines } = recorder();
    for (let i = 0; i < 250; i++) metrics.time("StoreWriteLatency", i);
    metrics.flush();
    expect(lines.map((l) => l.StoreWriteLatency.length)).toEqual([100, 100, 50]);
    expect(lines.flatMap((l) => l.StoreWriteLatency)).toEqual(Array.from({ length: 250 }, (_, i) => i));
  });
});
