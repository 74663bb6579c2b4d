import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearerToken, createJwtVerifier, gatewaySubject } from "./auth.ts";
import { UnauthorizedError } from "./errors.ts";

const ISSUER = "https://issuer.example/pool";
const exp = () => Math.floor(Date.now() / 1000) + 300;

describe("createJwtVerifier with a JWKS URL", () => {
  let server: Server;
  let jwksUrl: string;
  let privateKey: CryptoKey;

  beforeAll(async () => {
    const pair = await generateKeyPair("ES256");
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    server = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const sign = (aud: string, key = privateKey) =>
    new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer(ISSUER).setAudience(aud).setSubject("alice").setExpirationTime(exp()).sign(key);

  it("accepts a token for any of its audiences", async () => {
    const verify = createJwtVerifier({ issuer: ISSUER, audience: ["web", "mobile"], jwksUrl });
    expect(await verify(await sign("mobile"))).toEqual({ sub: "alice" });
    await expect(verify(await sign("other"))).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it("refuses a token signed by a key the JWKS does not hold", async () => {
    const verify = createJwtVerifier({ issuer: ISSUER, audience: "web", jwksUrl });
    const stranger = (await generateKeyPair("ES256")).privateKey;
    await expect(verify(await sign("web", stranger))).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it("does not blame the token when the key source is unreachable", async () => {
    const verify = createJwtVerifier({ issuer: ISSUER, audience: "web", jwksUrl: "http://127.0.0.1:9/jwks.json" });
    const error = await verify(await sign("web")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(UnauthorizedError);
  });

  it("refuses an HS256 token even when it is signed with the public key's bytes", async () => {
    const verify = createJwtVerifier({ issuer: ISSUER, audience: "web", jwksUrl });
    const hs = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256", kid: "k1" })
      .setIssuer(ISSUER)
      .setAudience("web")
      .setSubject("alice")
      .setExpirationTime(exp())
      .sign(randomBytes(32));
    await expect(verify(hs)).rejects.toBeInstanceOf(UnauthorizedError);
  });
});

describe("createJwtVerifier options", () => {
  it("needs exactly one key source", () => {
    expect(() => createJwtVerifier({ issuer: ISSUER, audience: "web" })).toThrow(/exactly one/);
    expect(() => createJwtVerifier({ issuer: ISSUER, audience: "web", secret: randomBytes(32), jwksUrl: "https://x/jwks" })).toThrow(/exactly one/);
  });
});

describe("bearerToken", () => {
  it.each([
    ["Bearer abc.def.ghi", "abc.def.ghi"],
    ["bearer abc.def.ghi", "abc.def.ghi"],
    ["Basic abc", undefined],
    ["Bearer", undefined],
    ["Bearer a b", undefined],
    [undefined, undefined],
  ])("reads %j as %j", (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});

describe("gatewaySubject", () => {
  it("reads the JWT authorizer's sub from the Lambda event, and nothing else", () => {
    expect(gatewaySubject({ event: { requestContext: { authorizer: { jwt: { claims: { sub: "alice" } } } } } })).toBe("alice");
    expect(gatewaySubject({ event: { requestContext: { authorizer: { jwt: { claims: { sub: 42 } } } } } })).toBeUndefined();
    expect(gatewaySubject({ event: { requestContext: {} } })).toBeUndefined();
    expect(gatewaySubject(undefined)).toBeUndefined();
    expect(gatewaySubject({ incoming: {}, outgoing: {} })).toBeUndefined();
  });
});
