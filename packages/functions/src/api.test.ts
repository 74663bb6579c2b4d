/**
 * The app behind `handle(app)`, fed the event API Gateway (HTTP API, payload 2.0, JWT
 * authorizer) sends: the claims come from the event, the body is what `app.request` returns.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { handle, type LambdaEvent } from "hono/aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createApiApp } from "./api/app.ts";
import { emptyView, PHOTOS, viewOf, testAuth, testModel, type TestAuth } from "../test/api-factories.ts";

/** The payload 2.0 member of hono's event union. */
type APIGatewayProxyEventV2 = Extract<LambdaEvent, { rawPath: string; routeKey: string }>;

const fixturePath = new URL("../test/fixtures/apigw-v2-clusters.json", import.meta.url);
let event: APIGatewayProxyEventV2;
let auth: TestAuth;

beforeAll(async () => {
  event = JSON.parse(await readFile(fixturePath, "utf8"));
  auth = await testAuth();
});
afterAll(() => auth.cleanup());

const withEvent = (change: (e: APIGatewayProxyEventV2) => void): APIGatewayProxyEventV2 => {
  const copy = structuredClone(event);
  change(copy);
  return copy;
};

function lambda() {
  const app = createApiApp({
    readUser: async (userId) => (userId === "alice" ? viewOf("alice") : emptyView(userId)),
    verifyToken: auth.verifyToken,
    model: testModel,
    logger: { info() {}, error() {} },
  });
  return { app, handler: handle(app) };
}

describe("API Lambda handler", () => {
  it("answers an API Gateway v2 event with the same JSON as an in-process request", async () => {
    // Prepare
    const { app, handler } = lambda();
    const direct = await app.request("/users/alice/clusters?threshold=0.8&minSize=2", {
      headers: { Authorization: `Bearer ${await auth.issueDevToken("alice")}` },
    });
    // Act
    const result = await handler(event);
    // Assess
    expect(result.statusCode).toBe(200);
    expect(result.isBase64Encoded).toBe(false);
    expect(result.headers).toMatchObject({
      "content-type": expect.stringMatching(/^application\/json/),
      "cache-control": "no-store",
      "x-request-id": "Bq3JtgQ5joEEMYw=",
    });
    expect(JSON.parse(result.body)).toEqual(await direct.json());
    expect(JSON.parse(result.body).clusters.map((c: { size: number }) => c.size)).toEqual([3, 2]);
  });

  it("takes the caller from the authorizer's claims, not the unverified header", async () => {
    const { handler } = lambda();
    const result = await handler(withEvent((e) => (e.requestContext.authorizer.jwt!.claims.sub = "bob")));
    expect(result.statusCode).toBe(403);
  });

  it("verifies the token itself when no authorizer ran", async () => {
    const { handler } = lambda();
    const noAuthorizer = withEvent((e) => (e.requestContext.authorizer = {}));
    expect((await handler(noAuthorizer)).statusCode).toBe(401);
    const token = await auth.issueDevToken("alice");
    const withToken = withEvent((e) => {
      e.requestContext.authorizer = {};
      e.headers.authorization = `Bearer ${token}`;
    });
    expect((await handler(withToken)).statusCode).toBe(200);
  });

  it("finds a photo whose id holds sub-folders and spaces from the path API Gateway passes on decoded", async () => {
    const named = viewOf(
      "alice",
      PHOTOS.map((p) => ({ ...p, imageId: `2024/05/${p.imageId} (1)` })),
    );
    const handler = handle(createApiApp({ readUser: async () => named, verifyToken: auth.verifyToken, model: testModel, logger: { info() {}, error() {} } }));
    const similar = withEvent((e) => {
      e.routeKey = "GET /users/{userId}/images/{rest+}";
      e.rawPath = "/users/alice/images/2024/05/beach-1 (1)/similar";
      e.rawQueryString = "limit=1";
    });

    const result = await handler(similar);

    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body).results).toEqual([
      { imageId: "2024/05/beach-2 (1)", key: "users/alice/2024/05/beach-2 (1).jpg", similarity: expect.any(Number) },
    ]);
  });

  it("answers bad parameters with 400 JSON through the adapter", async () => {
    const { handler } = lambda();
    const result = await handler(withEvent((e) => (e.rawQueryString = "threshold=abc")));
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body)).toEqual({ error: { code: "invalid_parameter", message: "threshold must be a number between 0 and 1" } });
  });
});

describe("api.ts", () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "api-handler-"));
    vi.stubEnv("DATA_DIR", dataDir);
    vi.stubEnv("MODEL_ID", "mobilenetv2-12-int8");
    vi.stubEnv("JWT_ISSUER", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example");
    vi.stubEnv("JWT_AUDIENCE", "4exampleclientid");
    vi.stubEnv("PHOTOS_BUCKET", "photos-bucket");
    vi.stubEnv("AWS_REGION", "eu-west-1");
    // What the Lambda runtime puts in the environment: the function role's session credentials.
    vi.stubEnv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "secret");
    vi.stubEnv("AWS_SESSION_TOKEN", "session-token");
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("serves a user without photos from an empty data directory", async () => {
    const { handler } = await import("./api.ts");
    const result = await handler(event);
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toEqual({ userId: "alice", model: "mobilenetv2-12-int8", threshold: 0.8, imageCount: 0, singletonCount: 0, clusters: [] });
  });

  it("signs an upload for the caller's own prefix with the function's session credentials", async () => {
    const { handler } = await import("./api.ts");
    const post = withEvent((e) => {
      e.routeKey = "POST /users/{userId}/uploads";
      e.rawPath = "/users/alice/uploads";
      e.rawQueryString = "";
      delete e.queryStringParameters;
      e.requestContext.http.method = "POST";
      e.requestContext.http.path = "/users/alice/uploads";
      e.headers["content-type"] = "application/json";
      delete e.headers["content-length"];
      e.body = JSON.stringify({ name: "2024/05/IMG 0001.JPG", contentType: "image/jpeg", size: 123456 });
      e.isBase64Encoded = false;
    });
    const result = await handler(post);
    expect(result.statusCode).toBe(200);
    const body = JSON.parse(result.body);
    expect(body).toMatchObject({
      key: "users/alice/2024/05/IMG 0001.JPG",
      imageId: "2024/05/IMG 0001",
      upload: { method: "POST", url: "https://photos-bucket.s3.eu-west-1.amazonaws.com/" },
    });
    expect(body.upload.fields).toMatchObject({
      key: "users/alice/2024/05/IMG 0001.JPG",
      "Content-Type": "image/jpeg",
      "X-Amz-Security-Token": "session-token",
    });
    expect(body.upload.fields["X-Amz-Credential"]).toMatch(/^ASIAEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request$/);
  });
});
