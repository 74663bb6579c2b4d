/**
 * The poller's writer port through the real Lambda SDK client, against a local endpoint that speaks
 * Lambda's Invoke protocol and runs the real writer on a temp store, as the writer function would.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { encodeVector, jsonLogger, mobilenetV2Int8, openStore, writeEvents, type WritePayload } from "@photo-clusters/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLambdaWriter } from "./lambda-writer.ts";

const model = { ...mobilenetV2Int8, id: "invoke-test", dimension: 4 };
let root: string;
let server: Server;
let endpoint: string;
const invoked: string[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "lambda-writer-"));
  const store = openStore({ root, model, logger: jsonLogger({}, { write() {} }) });
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      invoked.push(decodeURIComponent(req.url ?? ""));
      // The function named "broken" fails as a Lambda whose handler threw.
      if (req.url?.includes("/functions/broken/")) {
        res.writeHead(200, { "content-type": "application/json", "x-amz-function-error": "Unhandled" });
        return res.end(JSON.stringify({ errorType: "Error", errorMessage: "boom" }));
      }
      const { events } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as WritePayload;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ results: await writeEvents(store, events, jsonLogger({}, { write() {} })) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(root, { recursive: true, force: true });
});

const client = () => new LambdaClient({ endpoint, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" }, maxAttempts: 1 });

describe("the poller's writer port", () => {
  it("invokes the writer function with the batch and returns its answer for every record", async () => {
    const write = createLambdaWriter(client(), "writer");

    const replies = await write([
      {
        id: "m1#0",
        kind: "put",
        userId: "ann",
        key: "users/ann/a.jpg",
        imageId: "a",
        etag: "e",
        sequencer: "01",
        model: model.id,
        vector: encodeVector(Float32Array.from([1, 0, 0, 0])),
      },
    ]);

    expect(replies).toEqual([{ id: "m1#0", ok: true, outcome: "stored" }]);
    expect(invoked.at(-1)).toMatch(/\/functions\/writer\/invocations$/);
  });

  it("fails the whole batch as retryable when the writer function itself fails", async () => {
    const write = createLambdaWriter(client(), "broken");

    await expect(write([])).rejects.toMatchObject({ code: "writer_failed", retryable: true, message: "writer function failed (Unhandled)" });
  });
});
