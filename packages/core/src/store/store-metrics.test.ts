import { rm } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { metricSum, readEmf } from "../emf-reader.ts";
import { emfMetrics } from "../metrics.ts";
import { put, quietLogger, tempRoot, testModel } from "./fixtures/factories.ts";
import { openStore, userPaths } from "./index.ts";

const model = testModel(32, 0.2);
const D = { dimension: 32 };
let temp: Awaited<ReturnType<typeof tempRoot>>;
beforeEach(async () => {
  temp = await tempRoot();
});
afterEach(() => temp.cleanup());

function writerMetrics() {
  const lines: Array<Record<string, unknown>> = [];
  const metrics = emfMetrics({ namespace: "photo-clusters/test", service: "writer", write: (line) => lines.push(JSON.parse(line)) });
  const sum = (name: string) => {
    metrics.flush();
    return metricSum(readEmf(lines.splice(0)), name, { service: "writer" });
  };
  const waits = () => {
    metrics.flush();
    return readEmf(lines.splice(0))
      .filter((d) => d.name === "LockWait")
      .flatMap((d) => d.values);
  };
  return { metrics, sum, waits };
}

describe("the store's metrics", () => {
  it("time the lock on every write, and count a graph caught up with its log, and nothing when it was not behind", async () => {
    // Prepare
    const { metrics, sum, waits } = writerMetrics();
    const store = openStore({ root: temp.root, model, logger: quietLogger, metrics });
    await store.write("alice", [put("alice", "a", 1, D), put("alice", "b", 2, D)]);
    await store.write("alice", [put("alice", "c", 3, D)]);
    expect(waits()).toHaveLength(2);
    expect(sum("GraphCatchUps")).toBe(0);
    // Act: the graph lost, as after a crash before its frame was written; a fresh container writes next
    await rm(userPaths(temp.root, "alice", model.id).graph);
    const fresh = openStore({ root: temp.root, model, logger: quietLogger, metrics });
    await fresh.write("alice", [put("alice", "d", 4, D)]);
    // Assess
    expect(sum("GraphCatchUps")).toBe(1);
  });

  it("count each compaction, by itself after a write or asked for", async () => {
    const { metrics, sum } = writerMetrics();
    const store = openStore({ root: temp.root, model, logger: quietLogger, metrics, compaction: { minDead: 50, ratio: 0.5 } });
    let compacted = 0;
    for (let round = 0; round < 6; round++) {
      const result = await store.write(
        "alice",
        Array.from({ length: 20 }, (_, i) => put("alice", `i${i}`, round * 100 + i + 1, D)),
      );
      if (result.compacted) compacted++;
    }
    await store.compact("alice");
    expect(compacted).toBeGreaterThan(0);
    expect(sum("Compactions")).toBe(compacted + 1);
  });
});
