/**
 * Test factories for the API: small hand-made snapshots whose similarities are known exactly,
 * and tokens signed by a real key.
 */
import { randomBytes } from "node:crypto";
import { SignJWT } from "jose";
import { mobilenetV2Int8, type ModelDescriptor, type PhotoFacts, viewOfSnapshot } from "@photo-clusters/core";
import type { UserView } from "../src/api/clusters-view.ts";
import { createJwtVerifier, type VerifyToken } from "../src/api/auth.ts";

export const D = 8;

/** The model under test: the default one with a tiny dimension, same thresholds and bands. */
export const testModel: ModelDescriptor = { ...mobilenetV2Int8, dimension: D };

function unit(...pairs: Array<[axis: number, weight: number]>): number[] {
  const v = new Array<number>(D).fill(0);
  for (const [axis, weight] of pairs) v[axis] += weight;
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

/**
 * Three "beach" photos around axis 0 (cosines 0.98, 0.96, 0.94: band high), two "dog" photos
 * around axis 1 (cosine 0.894, similarity 0.925 on the calibrated scale: band high), and two
 * unrelated photos. Listed out of order so that cluster members are not simply consecutive.
 */
export const PHOTOS: Array<{ imageId: string; vector: number[] }> = [
  { imageId: "dog-2", vector: unit([1, 1], [5, 0.5]) },
  { imageId: "beach-1", vector: unit([0, 1]) },
  { imageId: "tree", vector: unit([2, 1]) },
  { imageId: "beach-2", vector: unit([0, 1], [4, 0.2]) },
  { imageId: "dog-1", vector: unit([1, 1]) },
  { imageId: "car", vector: unit([3, 1]) },
  { imageId: "beach-3", vector: unit([0, 1], [6, 0.3]) },
];

/** Every pair at or above `floor`, as the store's neighbour graph keeps them. */
function graphOf(vectors: Float32Array, n: number, floor: number): NonNullable<UserView["graph"]> {
  const a: number[] = [];
  const b: number[] = [];
  const s: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let dot = 0;
      for (let k = 0; k < D; k++) dot += vectors[i * D + k] * vectors[j * D + k];
      if (dot >= floor) {
        a.push(i);
        b.push(j);
        s.push(dot);
      }
    }
  }
  return { floor, edges: { a: Uint32Array.from(a), b: Uint32Array.from(b), s: Float32Array.from(s) } };
}

export function viewOf(userId: string, photos = PHOTOS, options: { graphFloor?: number | null } = {}): UserView {
  const vectors = new Float32Array(photos.length * D);
  for (const [i, p] of photos.entries()) vectors.set(p.vector, i * D);
  const floor = options.graphFloor === undefined ? testModel.defaults.graphFloor : options.graphFloor;
  return viewOfSnapshot({
    userId,
    model: testModel.id,
    dimension: D,
    images: photos.map((p) => ({ imageId: p.imageId, key: `users/${userId}/${p.imageId}.jpg`, etag: `"${p.imageId}"` })),
    vectors,
    graph: floor === null ? null : graphOf(vectors, photos.length, floor),
  });
}

export function emptyView(userId: string): UserView {
  return viewOfSnapshot({ userId, model: testModel.id, dimension: D, images: [], vectors: new Float32Array(0), graph: null });
}

/**
 * A user whose photos form cliques of the given sizes (every pair at cosine 0.99), listed
 * interleaved so that no cluster's rows are consecutive. Ids come from `idOf`, facts from `factsOf`.
 */
export function cliques(userId: string, sizes: number[], idOf: (i: number) => string, factsOf?: (i: number) => PhotoFacts | null): UserView {
  const n = sizes.reduce((x, y) => x + y, 0);
  const rows: number[][] = sizes.map(() => []);
  let next = 0;
  for (let k = 0; k < Math.max(...sizes); k++)
    sizes.forEach((size, g) => {
      if (k < size) rows[g].push(next++);
    });
  const a: number[] = [],
    b: number[] = [],
    s: number[] = [];
  for (const members of rows)
    for (let x = 0; x < members.length; x++)
      for (let y = x + 1; y < members.length; y++) {
        a.push(members[x]);
        b.push(members[y]);
        s.push(0.99);
      }
  return viewOfSnapshot({
    userId,
    model: testModel.id,
    dimension: 8,
    images: Array.from({ length: n }, (_, i) => ({ imageId: idOf(i), key: `users/${userId}/${idOf(i)}.jpg`, etag: "e" })),
    vectors: new Float32Array(0),
    graph: { floor: testModel.defaults.graphFloor, edges: { a: Uint32Array.from(a), b: Uint32Array.from(b), s: Float32Array.from(s) } },
    ...(factsOf ? { facts: factsOf } : {}),
  });
}

/** HS256 tokens for tests, as an identity provider would issue them, verified by the API's own verifier. */
export interface TestAuth {
  /** A signed token for `userId`, valid for `ttlSeconds` (default one hour). */
  issueDevToken(userId: string, ttlSeconds?: number): Promise<string>;
  verifyToken: VerifyToken;
  /** A token signed with the right key but any claims, e.g. an expiry in the past. */
  sign(claims: { sub?: string; iss?: string; aud?: string; exp?: number }): Promise<string>;
  cleanup(): Promise<void>;
}

export const TEST_ISSUER = "photo-clusters-test";
export const TEST_AUDIENCE = "photo-clusters-api";

/** A new key each call: another call's tokens do not verify. */
export async function testAuth(): Promise<TestAuth> {
  const key = randomBytes(32);
  const sign: TestAuth["sign"] = ({ sub = "alice", iss = TEST_ISSUER, aud = TEST_AUDIENCE, exp = Math.floor(Date.now() / 1000) + 600 }) =>
    new SignJWT({})
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(sub)
      .setIssuer(iss)
      .setAudience(aud)
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(key);
  return {
    issueDevToken: (userId, ttlSeconds = 3600) => sign({ sub: userId, exp: Math.floor(Date.now() / 1000) + ttlSeconds }),
    verifyToken: createJwtVerifier({ issuer: TEST_ISSUER, audience: TEST_AUDIENCE, secret: key }),
    sign,
    cleanup: async () => {},
  };
}
