import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApiApp } from "@photo-clusters/functions";
import { createDevAuth, type DevAuth } from "../dev-auth.ts";
import { emptyView, viewOf, testModel } from "@photo-clusters/functions/test/api-factories";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalRoutes, type LocalRoutesDeps } from "./local-routes.ts";

const JPEG = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
let dataDir: string;
let auth: DevAuth;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "local-routes-"));
  auth = await createDevAuth(dataDir);
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

function routes(getObject: LocalRoutesDeps["getObject"] = (key) => (key === "users/alice/beach-1.jpg" ? JPEG : undefined), queueDepth = async () => 3) {
  return createLocalRoutes({ issueDevToken: auth.issueDevToken, getObject, queueDepth });
}

describe("local routes", () => {
  it("serves the page with a CSP that allows only its own inline script and style", async () => {
    const res = await routes().request("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
    const csp = res.headers.get("Content-Security-Policy")!;
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toContain("unsafe-inline");
    expect(await res.text()).toContain("/local/token?user=");
  });

  it("issues a dev token the API accepts", async () => {
    const res = await routes().request("/local/token?user=alice");
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const { token, expiresIn } = (await res.json()) as { token: string; expiresIn: number };
    expect(expiresIn).toBe(3600);
    expect(await auth.verifyToken(token)).toEqual({ sub: "alice" });
  });

  it.each(["", "a.b", "../x"])("refuses a token for user %j", async (user) => {
    const res = await routes().request(`/local/token?user=${encodeURIComponent(user)}`);
    expect(res.status).toBe(400);
  });

  it("serves a photo of the local bucket with its type taken from the extension", async () => {
    const res = await routes().request("/local/images/alice/beach-1.jpg");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("image/jpeg");
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("Cross-Origin-Resource-Policy")).toBe("same-origin");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(JPEG);
  });

  it("accepts an object with its own content type but still types it by extension", async () => {
    const res = await routes(async () => ({ bytes: JPEG, contentType: "text/html" })).request("/local/images/alice/beach-1.jpg");
    expect(res.headers.get("Content-Type")).toBe("image/jpeg");
  });

  it("404s a photo that is not there", async () => {
    expect((await routes().request("/local/images/alice/nope.jpg")).status).toBe(404);
  });

  it("serves a photo whose name has sub-folders, spaces and Unicode, each segment percent-encoded", async () => {
    const asked: string[] = [];
    const res = await routes((key) => {
      asked.push(key);
      return JPEG;
    }).request(`/local/images/alice/2024/05/${encodeURIComponent("IMG 0001 é")}.JPG`);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("image/jpeg");
    expect(asked).toEqual(["users/alice/2024/05/IMG 0001 é.JPG"]);
  });

  it.each(["/local/images/alice/..%2Fbob%2Fx.jpg", "/local/images/al.ice/x.jpg", "/local/images/alice/x", "/local/images/alice/.jpg"])(
    "rejects %s",
    async (path) => {
      let asked = 0;
      const res = await routes(() => {
        asked++;
        return JPEG;
      }).request(path);
      expect([400, 404]).toContain(res.status);
      expect(asked).toBe(0);
    },
  );

  it("says how many messages the local queue holds, uncached, and 404 where there is no queue", async () => {
    const res = await routes().request("/local/queue");
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(await res.json()).toEqual({ messages: 3 });
    const without = createLocalRoutes({ issueDevToken: auth.issueDevToken, getObject: () => undefined });
    expect((await without.request("/local/queue")).status).toBe(404);
  });

  it("answers only for a loopback host", async () => {
    const app = routes();
    for (const path of ["/", "/local/token?user=alice", "/local/images/alice/beach-1.jpg", "/local/queue"]) {
      expect((await app.request(`http://attacker.example${path}`)).status).toBe(403);
      expect((await app.request(`http://127.0.0.1:3000${path}`)).status).toBe(200);
    }
  });
});

describe("page and API on one server", () => {
  const server = () => {
    const app = new Hono();
    app.route("/", routes());
    app.route(
      "/",
      createApiApp({
        readUser: async (u) => (u === "alice" ? viewOf("alice") : emptyView(u)),
        verifyToken: auth.verifyToken,
        model: testModel,
        logger: { info() {}, error() {} },
      }),
    );
    return app;
  };

  it("lets the page's token read the clusters", async () => {
    const app = server();
    const { token } = (await (await app.request("/local/token?user=alice")).json()) as { token: string };
    const res = await app.request("/users/alice/clusters", { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { clusters: unknown[] }).clusters).toHaveLength(2);
  });

  it("keeps the API's headers off the page", async () => {
    const res = await server().request("/");
    expect(res.headers.get("Content-Security-Policy")).toContain("script-src 'sha256-");
    expect(res.headers.get("X-Request-Id")).toBeNull();
  });
});
