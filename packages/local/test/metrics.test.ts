import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { metricSum, readEmf } from "@photo-clusters/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PHOTOS, startTestRuntime, type TestRuntime } from "./test-runtime.ts";

const GOOD = ["4aaa68e8", "68732b28", "083004ea", "00d7a649"];

describe("a local run's metric lines", () => {
  let runtime: TestRuntime;
  const logs: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    runtime = await startTestRuntime({
      // No redelivery within the test: each photo is tried once.
      visibilityTimeoutSeconds: 60,
      // Exact counts below: a busy machine must not get the model server restarted (and a photo retried).
      modelServerPingMs: 5_000,
      onLog: (entry) => logs.push(entry),
      writeMetrics: (line) => logs.push(JSON.parse(line)),
    });
  });
  afterAll(() => runtime?.stop());

  it("count the photos stored, skipped and failed by code, time embedding and writes, and time API requests by route", async () => {
    // Prepare
    const token = await runtime.auth.issueDevToken("gina");
    const get = (path: string) => fetch(`${runtime.apiUrl}/users/gina/${path}`, { headers: { Authorization: `Bearer ${token}` } });
    const put = async (name: string, body: Uint8Array) =>
      runtime.emulator.s3.send(new PutObjectCommand({ Bucket: "photos", Key: `users/gina/${name}`, Body: body, ContentType: "image/jpeg" }));
    const settled = (stored: number, failed: number) => async () => {
      const status = (await (await get("status")).json()) as { stored: number; failed: unknown[] };
      return status.stored === stored && status.failed.length === failed;
    };
    // Act: four photos and text named like one, then the first photo again, byte for byte
    for (const id of GOOD) await put(`${id}.jpg`, await readFile(join(PHOTOS, `${id}.jpg`)));
    await put("notes.jpg", Buffer.from("not a photo, only text named .jpg\n"));
    await until(settled(GOOD.length, 1));
    await put(`${GOOD[0]}.jpg`, await readFile(join(PHOTOS, `${GOOD[0]}.jpg`)));
    await until(async () => logs.some((l) => l.message === "record written" && l.outcome === "duplicate"));
    for (const path of ["clusters", `images/${GOOD[0]}/similar`, "status"]) expect((await get(path)).status).toBe(200);
    await until(async () => readEmf(logs).some((d) => d.name === "ApiLatency" && d.dimensions.route === "status"));
    // Assess
    const data = readEmf(logs);
    expect(new Set(data.map((d) => d.namespace))).toEqual(new Set(["photo-clusters/local"]));
    expect(metricSum(data, "PhotosStored", { service: "writer" })).toBe(GOOD.length);
    expect(metricSum(data, "PhotosSkipped", { service: "writer" })).toBe(1);
    expect(metricSum(data, "PhotosFailed", { service: "poller" })).toBe(1);
    expect(metricSum(data, "PhotosFailed", { service: "poller", code: "not_an_image" })).toBe(1);
    // Every photo that reached the model and came back embedded: the four, and the first one again.
    expect(data.filter((d) => d.name === "EmbeddingLatency" && Object.keys(d.dimensions).length === 1).flatMap((d) => d.values)).toHaveLength(GOOD.length + 1);
    expect(metricSum(data, "EmbeddingRetries", { service: "poller" })).toBe(0);
    expect(
      data
        .filter((d) => d.name === "EmbeddingThrottles")
        .flatMap((d) => d.values)
        .every((v) => v === 0),
    ).toBe(true);
    expect(data.some((d) => d.name === "EmbeddingThrottles")).toBe(true);
    expect(data.find((d) => d.name === "StoreWriteLatency")).toMatchObject({ unit: "Milliseconds", dimensions: { service: "writer" } });
    expect(data.find((d) => d.name === "LockWait")).toMatchObject({ unit: "Milliseconds", dimensions: { service: "writer" } });
    for (const route of ["clusters", "similar", "status"]) {
      const latency = data.filter((d) => d.name === "ApiLatency" && d.dimensions.route === route);
      expect(latency.length, route).toBeGreaterThan(0);
      expect(latency[0]).toMatchObject({ unit: "Milliseconds", dimensions: { service: "api", route } });
    }
    expect(metricSum(data, "ViewCacheMisses", { service: "api" })).toBeGreaterThanOrEqual(1);
    expect(metricSum(data, "ViewCacheHits", { service: "api" })).toBeGreaterThanOrEqual(1);
  });
});

async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("the pipeline did not get there within 30 s");
}
