/**
 * What the poller sends the endpoint (the model's input cut from the photo, not the photo) embeds
 * as the whole photo does, on every dev photo, through the real model server over HTTP.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { jsonLogger, mobilenetV2Int8 } from "@photo-clusters/core";
import { smallImage } from "@photo-clusters/functions";
import { startModelServer, type ModelServer } from "@photo-clusters/model-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const SHARED = join(import.meta.dirname, "../../../../shared");
const PHOTOS = join(SHARED, "data/dev-photos");

describe("the image the poller sends the endpoint (its bytes: pnpm bench --edge)", () => {
  let server: ModelServer;
  beforeAll(async () => {
    server = await startModelServer({
      port: 0,
      model: mobilenetV2Int8,
      modelPath: join(SHARED, "models/mobilenetv2-12-int8.onnx"),
      logger: jsonLogger({}, { write() {} }),
    });
    await server.ready;
  });
  afterAll(() => server?.close());

  const embed = async (bytes: Uint8Array, contentType: string) => {
    const res = await fetch(`${server.url}/invocations`, { method: "POST", headers: { "Content-Type": contentType }, body: bytes });
    expect(res.status).toBe(200);
    return ((await res.json()) as { embedding: number[] }).embedding;
  };

  it("embeds as the whole photo does (cosine ≥ 0.99) on every dev photo", async () => {
    // Prepare
    const files = (await readdir(PHOTOS)).filter((f) => f.endsWith(".jpg"));
    const cosines: number[] = [];

    // Act
    for (const file of files) {
      const photo = await readFile(join(PHOTOS, file));
      const small = await smallImage(photo, mobilenetV2Int8.input.preprocessing);
      const [whole, cut] = await Promise.all([embed(photo, "image/jpeg"), embed(small.bytes, small.contentType)]);
      cosines.push(whole.reduce((sum, x, i) => sum + x * cut[i]!, 0));
    }

    // Assess
    expect(files.length).toBeGreaterThan(290);
    // The same pixels: the same embedding but for float rounding (the lowest measured: 0.99999999).
    expect(Math.min(...cosines)).toBeGreaterThanOrEqual(0.99999);
  }, 180_000);
});
