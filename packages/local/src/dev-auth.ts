/**
 * Local development tokens: an HS256 key kept in the data directory (mode 0600), so the CLI's
 * `token --user` and the running local API agree without any identity provider.
 * Never used in AWS, where API Gateway's JWT authorizer checks the provider's tokens.
 */
import { randomBytes } from "node:crypto";
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { base64url, SignJWT } from "jose";
import { createJwtVerifier, type VerifyToken } from "@photo-clusters/functions";
import { isValidId } from "@photo-clusters/core";

export const DEV_ISSUER = "photo-clusters-local";
export const DEV_AUDIENCE = "photo-clusters-api";
export const DEV_KEY_FILE = ".dev-auth-key.json";

export interface DevAuth {
  issuer: string;
  audience: string;
  /** A signed token for `userId`, valid for `ttlSeconds` (default one hour). */
  issueDevToken(userId: string, ttlSeconds?: number): Promise<string>;
  verifyToken: VerifyToken;
}

async function loadKey(path: string): Promise<Uint8Array | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const jwk = JSON.parse(text) as { kty?: string; k?: string };
  if (jwk.kty !== "oct" || typeof jwk.k !== "string") throw new Error(`${path} is not a dev auth key; delete it to create a new one`);
  const key = base64url.decode(jwk.k);
  if (key.length < 32) throw new Error(`${path} holds a key shorter than 256 bits; delete it to create a new one`);
  if (((await stat(path)).mode & 0o077) !== 0) await chmod(path, 0o600);
  return key;
}

async function loadOrCreateKey(dataDir: string): Promise<Uint8Array> {
  const path = join(dataDir, DEV_KEY_FILE);
  const existing = await loadKey(path);
  if (existing) return existing;
  await mkdir(dataDir, { recursive: true });
  const key = randomBytes(32);
  const jwk = { kty: "oct", alg: "HS256", k: base64url.encode(key) };
  // Written aside, then linked into place: link fails when the name exists, so when two
  // processes start at once the second reads the first one's complete key, never a partial file.
  const temp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(temp, `${JSON.stringify(jwk)}\n`, { flag: "wx", mode: 0o600 });
  try {
    await link(temp, path);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const winner = await loadKey(path);
    if (!winner) throw error;
    return winner;
  } finally {
    await unlink(temp).catch(() => {});
  }
}

export async function createDevAuth(dataDir: string): Promise<DevAuth> {
  const key = await loadOrCreateKey(dataDir);
  return {
    issuer: DEV_ISSUER,
    audience: DEV_AUDIENCE,
    async issueDevToken(userId, ttlSeconds = 3600) {
      if (!isValidId(userId)) throw new Error("userId must be 1 to 128 letters, digits, '_' or '-'");
      if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) throw new Error("ttlSeconds must be a positive integer");
      return new SignJWT({})
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setIssuer(DEV_ISSUER)
        .setAudience(DEV_AUDIENCE)
        .setSubject(userId)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
        .sign(key);
    },
    verifyToken: createJwtVerifier({ issuer: DEV_ISSUER, audience: DEV_AUDIENCE, secret: key }),
  };
}
