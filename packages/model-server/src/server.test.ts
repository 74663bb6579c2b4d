import { request } from "node:http";
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mobilenetV2Int8, silentLogger } from "@photo-clusters/core";
import { createEmbedder, type Embedder } from "./embedder.ts";
import { startModelServer, type ModelServer } from "./server.ts";
import { cosine, MODEL_PATH, photo, pngClaiming } from "../test/testing.ts";

// The real SDK client, as the poller uses it (a dependency of packages/functions).
const sdk = createRequire(new URL("../../functions/package.json", import.meta.url))("@aws-sdk/client-sagemaker-runtime") as {
  SageMakerRuntimeClient: new (config: object) => { send(command: unknown): Promise<any>; destroy(): void };
  InvokeEndpointCommand: new (input: object) => unknown;
};

const JPEG = photo("00d7a649.jpg");

let server: ModelServer;
beforeAll(async () => {
  server = await startModelServer({ model: mobilenetV2Int8, modelPath: MODEL_PATH, port: 0, logger: silentLogger });
});
afterAll(() => server?.close());

function post(path: string, body: Uint8Array, contentType = "image/jpeg"): Promise<Response> {
  return fetch(server.url + path, { method: "POST", body, headers: { "content-type": contentType } });
}

async function expectError(response: Response, status: number, errorType: string, code: string, message: RegExp) {
  expect(response.status).toBe(status);
  expect(response.headers.get("x-amzn-errortype")).toBe(errorType);
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message).toMatch(message);
}

describe("model server", () => {
  it("answers /ping with 503 until the model is loaded, then 200", async () => {
    // Prepare: a server whose embedder arrives when the test says so.
    let release!: (e: Embedder) => void;
    const pending = new Promise<Embedder>((resolve) => (release = resolve));
    const early = await startModelServer({ model: mobilenetV2Int8, port: 0, embedder: pending, waitForModel: false, logger: silentLogger });
    const embedder = await createEmbedder({ modelPath: MODEL_PATH, model: mobilenetV2Int8 });
    try {
      // Act + Assess
      expect((await fetch(`${early.url}/ping`)).status).toBe(503);
      await expectError(await fetch(`${early.url}/invocations`, { method: "POST", body: JPEG }), 503, "ServiceUnavailable", "service_unavailable", /not ready/);
      release(embedder);
      await early.ready;
      expect((await fetch(`${early.url}/ping`)).status).toBe(200);
    } finally {
      await early.close();
      await embedder.close();
    }
  });

  it("embeds an image posted to /invocations and to the runtime route", async () => {
    // Act
    const a = await post("/invocations", JPEG);
    const b = await post("/endpoints/photo-clusters/invocations", JPEG);
    // Assess
    expect(a.status).toBe(200);
    const body = (await a.json()) as { model: string; dimension: number; embedding: number[] };
    expect(body.model).toBe("mobilenetv2-12-int8");
    expect(body.dimension).toBe(1280);
    expect(body.embedding).toHaveLength(1280);
    expect(Math.hypot(...body.embedding)).toBeCloseTo(1, 5);
    expect(((await b.json()) as { embedding: number[] }).embedding).toEqual(body.embedding);
  });

  it("refuses an empty body with 400", async () => {
    await expectError(await post("/invocations", new Uint8Array(0)), 400, "ValidationError", "invalid_image", /body is empty/);
  });

  it("refuses text named .jpg with 400", async () => {
    await expectError(await post("/invocations", new TextEncoder().encode("not an image")), 400, "ValidationError", "invalid_image", /not a readable image/);
  });

  it("refuses a truncated JPEG with 400", async () => {
    await expectError(await post("/invocations", JPEG.subarray(0, JPEG.length >> 1)), 400, "ValidationError", "invalid_image", /truncated or corrupt/);
  });

  it("refuses a PNG declaring 20000×20000 pixels with 413", async () => {
    await expectError(await post("/invocations", pngClaiming(20_000, 20_000), "image/png"), 413, "ValidationError", "image_too_large", /20000×20000/);
  });

  it("refuses a declared non-image Content-Type with 415", async () => {
    await expectError(await post("/invocations", JPEG, "text/plain"), 415, "ValidationError", "unsupported_media_type", /text\/plain/);
  });

  it("refuses a 30 MB body with 413, declared or streamed, and keeps serving", async () => {
    // Prepare
    const big = new Uint8Array(30 * 1024 * 1024);
    const streamed = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 30; i++) controller.enqueue(new Uint8Array(1024 * 1024));
        controller.close();
      },
    });
    // Act
    const declared = await post("/invocations", big);
    const chunked = await fetch(`${server.url}/invocations`, { method: "POST", body: streamed, duplex: "half" } as RequestInit);
    // Assess
    await expectError(declared, 413, "ValidationError", "image_too_large", /30\.0 MB; the limit is 6\.0 MB/);
    await expectError(chunked, 413, "ValidationError", "image_too_large", /over the limit of 6\.0 MB/);
    expect((await post("/invocations", JPEG)).status).toBe(200);
  });

  it("stops reading a streamed body at the limit instead of buffering it", async () => {
    // Prepare: a raw request that declares no length and sends 1 MB chunks.
    let sent = 0;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${server.url}/invocations`, { method: "POST", headers: { "transfer-encoding": "chunked" } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on("error", reject);
      const chunk = Buffer.alloc(1024 * 1024);
      const pump = () => {
        while (sent < 8 * 1024 * 1024) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once("drain", pump);
        }
      };
      pump();
    });
    // Assess: answered before the client finished sending.
    expect(status).toBe(413);
  });

  it("rejects with EADDRINUSE when the port is taken", async () => {
    const port = Number(new URL(server.url).port);
    await expect(startModelServer({ model: mobilenetV2Int8, modelPath: MODEL_PATH, port, logger: silentLogger })).rejects.toMatchObject({ code: "EADDRINUSE" });
  });

  it("answers unknown routes with 404 and wrong methods with 405", async () => {
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/invocations`)).status).toBe(405);
  });

  it("answers concurrent requests, each with its own image's embedding", async () => {
    // Prepare
    const files = ["00d7a649.jpg", "01be2e32.jpg", "02fa3702.jpg", "04ee03a7.jpg"];
    const expected = await Promise.all(files.map(async (f) => ((await (await post("/invocations", photo(f))).json()) as { embedding: number[] }).embedding));
    // Act
    const responses = await Promise.all(Array.from({ length: 24 }, (_, i) => post("/invocations", photo(files[i % files.length]!))));
    // Assess
    for (const [i, r] of responses.entries()) {
      expect(r.status).toBe(200);
      const { embedding } = (await r.json()) as { embedding: number[] };
      expect(cosine(embedding, expected[i % files.length]!)).toBeGreaterThan(0.9999);
    }
  });
});

describe("the AWS SDK's InvokeEndpoint against the server", () => {
  const client = (endpoint = server.url) =>
    new sdk.SageMakerRuntimeClient({
      endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      maxAttempts: 1,
    });

  it("returns the embedding", async () => {
    // Act
    const sm = client();
    const out = await sm.send(new sdk.InvokeEndpointCommand({ EndpointName: "photo-clusters", Body: JPEG, ContentType: "image/jpeg" }));
    sm.destroy();
    // Assess
    const body = JSON.parse(out.Body.transformToString()) as { model: string; embedding: number[] };
    expect(out.ContentType).toBe("application/json");
    expect(body.model).toBe("mobilenetv2-12-int8");
    expect(body.embedding).toHaveLength(1280);
  });

  it("raises a typed ValidationError for a bad image", async () => {
    // Act
    const sm = client();
    const error = await sm
      .send(new sdk.InvokeEndpointCommand({ EndpointName: "photo-clusters", Body: new TextEncoder().encode("nope"), ContentType: "image/jpeg" }))
      .catch((e: unknown) => e as { name: string; message: string; $fault: string; $metadata: { httpStatusCode: number } });
    sm.destroy();
    // Assess
    expect(error.name).toBe("ValidationError");
    expect(error.$fault).toBe("client");
    expect(error.$metadata.httpStatusCode).toBe(400);
    expect(error.message).toMatch(/not a readable image/);
  });

  it("raises ServiceUnavailable while the model loads and InternalFailure, saying nothing internal, when embedding fails", async () => {
    // Prepare: a server still loading, and one whose embedder breaks (no real piece fails on demand).
    const loading = await startModelServer({
      model: mobilenetV2Int8,
      port: 0,
      embedder: new Promise<Embedder>(() => {}),
      waitForModel: false,
      logger: silentLogger,
    });
    const broken: Embedder = {
      model: mobilenetV2Int8,
      limits: { maxBytes: 1024 * 1024, maxPixels: 1e8 },
      embed: async () => {
        throw new Error("secret internal detail: /opt/models/model.onnx exploded");
      },
      preprocess: async () => new Float32Array(0),
      embedTensors: async () => new Float32Array(0),
      close: async () => {},
    };
    const failing = await startModelServer({ model: mobilenetV2Int8, port: 0, embedder: broken, logger: silentLogger });
    const invoke = (url: string) => {
      const sm = client(url);
      return sm
        .send(new sdk.InvokeEndpointCommand({ EndpointName: "photo-clusters", Body: JPEG, ContentType: "image/jpeg" }))
        .catch((e: unknown) => e as { name: string; message: string; $fault: string; $metadata: { httpStatusCode: number } })
        .finally(() => sm.destroy());
    };
    try {
      // Act
      const unavailable = await invoke(loading.url);
      const internal = await invoke(failing.url);
      // Assess
      expect(unavailable.name).toBe("ServiceUnavailable");
      expect(unavailable.$metadata.httpStatusCode).toBe(503);
      expect(internal.name).toBe("InternalFailure");
      expect(internal.$fault).toBe("server");
      expect(internal.$metadata.httpStatusCode).toBe(500);
      expect(internal.message).toBe("the model server failed to embed this image");
    } finally {
      await loading.close();
      await failing.close();
    }
  });
});
