import { chmod, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt } from "jose";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDevAuth, DEV_AUDIENCE, DEV_ISSUER, DEV_KEY_FILE } from "./dev-auth.ts";

let dataDir: string;
beforeEach(async () => {
  dataDir = join(await mkdtemp(join(tmpdir(), "dev-auth-")), "nested", "data");
});
afterEach(() => rm(join(dataDir, "..", ".."), { recursive: true, force: true }));

describe("createDevAuth", () => {
  it("creates the key in the data directory readable by its owner only", async () => {
    await createDevAuth(dataDir);
    expect((await stat(join(dataDir, DEV_KEY_FILE))).mode & 0o777).toBe(0o600);
  });

  it("issues tokens with issuer, audience, subject and expiry", async () => {
    const auth = await createDevAuth(dataDir);
    const before = Math.floor(Date.now() / 1000);
    const claims = decodeJwt(await auth.issueDevToken("alice", 120));
    expect(claims).toMatchObject({ iss: DEV_ISSUER, aud: DEV_AUDIENCE, sub: "alice" });
    expect(claims.exp).toBeGreaterThanOrEqual(before + 120);
    expect(claims.exp).toBeLessThanOrEqual(before + 121);
  });

  it("keeps one key across processes: a token from one verifies in the other", async () => {
    const [first, second] = await Promise.all([createDevAuth(dataDir), createDevAuth(dataDir)]);
    expect(await second.verifyToken(await first.issueDevToken("bob"))).toEqual({ sub: "bob" });
  });

  it("tightens a key file that others could read", async () => {
    await createDevAuth(dataDir);
    await chmod(join(dataDir, DEV_KEY_FILE), 0o644);
    await createDevAuth(dataDir);
    expect((await stat(join(dataDir, DEV_KEY_FILE))).mode & 0o777).toBe(0o600);
  });

  it.each([
    ["a.b", 60],
    ["alice", 0],
    ["alice", 1.5],
  ])("refuses user %j with ttl %s", async (user, ttl) => {
    const auth = await createDevAuth(dataDir);
    await expect(auth.issueDevToken(user, ttl)).rejects.toThrow();
  });
});
