/**
 * The three handlers as Lambda runs them with active tracing. A UDP socket stands in for the X-Ray
 * daemon (Lambda's own listens the same way), and one HTTP server for S3, SageMaker's runtime API
 * and Lambda's Invoke: AWS is out of reach here, and the real SDK clients speak their wire formats.
 */
import { createSocket } from "node:dgram";
import { createServer, type Server } from "node:http";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeVector } from "@photo-clusters/core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

const traceId = (n: number) => `1-5759e988-bd862e3fe1be46a99427279${n}`;
const segments: Array<{ name: string; trace_id: string; aws?: { operation?: string }; error?: boolean; fault?: boolean }> = [];
const lines: Array<Record<string, unknown>> = [];
const daemon = createSocket("udp4");
let server: Server;
let dataDir: string;
// A real (tiny) photo: the poller decodes what it fetches before it calls the endpoint.
const PHOTO = await sharp({ create: { width: 32, height: 24, channels: 3, background: "#3a6" } })
  .jpeg()
  .toBuffer();

/** S3 GetObject (path-style), InvokeEndpoint and Invoke, answered as the services would. */
function fakeAws(): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      if (req.method === "GET" && req.url?.startsWith("/photos/users/u1/a.jpg")) {
        res.writeHead(200, { "content-type": "image/jpeg", "content-length": String(PHOTO.length), etag: '"e1"' });
        return res.end(PHOTO);
      }
      res.writeHead(200, { "content-type": "application/json" });
      if (req.url?.startsWith("/endpoints/")) return res.end(JSON.stringify({ model: "mobilenetv2-12-int8", dimension: 2, embedding: [0.6, 0.8] }));
      const { events } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { events: Array<{ id: string }> };
      res.end(JSON.stringify({ results: events.map((e) => ({ id: e.id, ok: true, outcome: "stored" })) }));
    });
  });
}

beforeAll(async () => {
  daemon.on("message", (m) => segments.push(JSON.parse(m.toString().split("\n")[1])));
  await new Promise<void>((r) => daemon.bind(0, "127.0.0.1", () => r()));
  server = fakeAws();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const aws = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  dataDir = await mkdtemp(join(tmpdir(), "tracing-test-"));
  const env: Record<string, string> = {
    AWS_EXECUTION_ENV: "AWS_Lambda_nodejs24.x",
    LAMBDA_TASK_ROOT: dataDir,
    AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
    _X_AMZN_TRACE_ID: `Root=${traceId(0)};Parent=53995c3f42cd8ad8;Sampled=1`,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "x",
    AWS_SECRET_ACCESS_KEY: "x",
    AWS_ENDPOINT_URL_S3: aws,
    AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: aws,
    AWS_ENDPOINT_URL_LAMBDA: aws,
    BUCKET_NAME: "photos",
    PHOTOS_BUCKET: "photos",
    ENDPOINT_NAME: "e",
    WRITER_FUNCTION_NAME: "w",
    MODEL_ID: "mobilenetv2-12-int8",
    DATA_DIR: dataDir,
    JWT_ISSUER: "https://issuer.example",
    JWT_AUDIENCE: "a",
    METRICS_NAMESPACE: "photo-clusters/test",
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  vi.spyOn(process.stdout, "write").mockImplementation((line) => {
    lines.push(JSON.parse(String(line)));
    return true;
  });
});
afterAll(async () => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  daemon.close();
  server.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** Runs one invocation under its own trace id and request id, as Lambda sets them, and returns what it sent and logged. */
async function invoke<T>(n: number, run: (context: { awsRequestId: string }) => Promise<T>) {
  vi.stubEnv("_X_AMZN_TRACE_ID", `Root=${traceId(n)};Parent=53995c3f42cd8ad${n};Sampled=1`);
  const [seenSegments, seenLines] = [segments.length, lines.length];
  const result = await run({ awsRequestId: `request-${n}` });
  // The datagrams' way to the socket: until none has come for 100 ms (at most 3 s), however busy the machine.
  for (let count = -1, quiet = 0, waited = 0; quiet < 100 && waited < 3000; waited += 20) {
    quiet = segments.length === count ? quiet + 20 : 0;
    count = segments.length;
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    result,
    segments: segments.slice(seenSegments),
    logs: lines.slice(seenLines).filter((l) => !("_aws" in l)),
    metrics: lines.slice(seenLines).filter((l) => "_aws" in l),
  };
}

describe("traces of the Lambdas", () => {
  it("record the poller's S3, SageMaker and Lambda calls as subsegments of its invocation, whose trace id, request id and cold start every log line carries", async () => {
    // Prepare
    const { handler } = await import("./poller.ts");
    const body = JSON.stringify({
      Records: [
        { eventName: "ObjectCreated:Put", s3: { bucket: { name: "photos" }, object: { key: "users/u1/a.jpg", eTag: "e1", size: 3, sequencer: "0A" } } },
      ],
    });
    // Act
    const { result, segments, logs, metrics } = await invoke(1, (context) => handler({ Records: [{ messageId: "m1", body }] }, context));
    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    expect(segments.map((s) => [s.name, s.aws?.operation, s.trace_id]).sort()).toEqual([
      ["Lambda", "Invoke", traceId(1)],
      ["S3", "GetObject", traceId(1)],
      ["SageMakerRuntime", "InvokeEndpoint", traceId(1)],
    ]);
    expect(logs.length).toBeGreaterThan(0);
    for (const line of logs) expect(line).toMatchObject({ traceId: traceId(1), awsRequestId: "request-1", coldStart: true });
    expect(metrics).toMatchObject([{ service: "poller", _aws: { CloudWatchMetrics: [{ Namespace: "photo-clusters/test" }] } }]);
  });

  it("record the writer's store write as a subsegment", async () => {
    const { handler } = await import("./writer.ts");
    const vector = new Float32Array(1280);
    vector[0] = 1;
    const put = {
      id: "1",
      userId: "u1",
      kind: "put" as const,
      key: "users/u1/a.jpg",
      imageId: "a",
      etag: "e1",
      sequencer: "0A",
      model: "mobilenetv2-12-int8",
      vector: encodeVector(vector),
    };
    const { result, segments } = await invoke(2, (context) => handler({ events: [put] }, context));
    expect(result).toEqual({ results: [{ id: "1", ok: true, outcome: "stored" }] });
    expect(segments.map((s) => [s.name, s.trace_id])).toEqual([["store.write", traceId(2)]]);
  });

  it("record the API's store read (of the photo the writer stored) as a subsegment, and its request log line with the trace id and request id", async () => {
    const { handler } = await import("./api.ts");
    const event = JSON.parse(await readFile(new URL("../test/fixtures/apigw-v2-clusters.json", import.meta.url), "utf8"));
    event.rawPath = "/users/u1/clusters";
    event.pathParameters = { userId: "u1" };
    event.requestContext.authorizer.jwt.claims.sub = "u1";
    const { result, segments, logs } = await invoke(3, (context) => handler(event, context as never));
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body).imageCount).toBe(1);
    expect(segments.map((s) => [s.name, s.trace_id])).toEqual([["store.read", traceId(3)]]);
    // Not the first invocation here: the three handlers share this process, as no two do in Lambda.
    expect(logs).toMatchObject([{ message: "request", status: 200, traceId: traceId(3), awsRequestId: "request-3", coldStart: false }]);
  });
});
