import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { type EmbeddingStore, jsonLogger, mobilenetV2Int8, openStore, s3EventMessage } from "@photo-clusters/core";
import { startModelServer, type ModelServer } from "@photo-clusters/model-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nextSequencer } from "../src/bridge.ts";
import { startEmulator, type Emulator } from "../src/emulator.ts";
import { localPollerHandler } from "../src/local-poller.ts";
import { pngClaiming } from "./bad-inputs.ts";

const SHARED = join(import.meta.dirname, "../../../../shared");
const MODEL_PATH = join(SHARED, "models/mobilenetv2-12-int8.onnx");
const PHOTOS = join(SHARED, "data/dev-photos");

describe("the poller, on real S3 (emulated), the real model server and the real store", () => {
  let emulator: Emulator;
  let modelServer: ModelServer;
  let store: EmbeddingStore;
  let dataDir: string;
  const logs: Array<Record<string, unknown>> = [];
  const logger = jsonLogger({}, { write: (line) => logs.push(JSON.parse(line)) });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "poller-test-"));
    store = openStore({ root: dataDir, model: mobilenetV2Int8 });
    modelServer = await startModelServer({ port: 0, model: mobilenetV2Int8, modelPath: MODEL_PATH, logger });
    await modelServer.ready;
    emulator = await startEmulator();
  });
  afterAll(async () => {
    await emulator?.stop();
    await modelServer?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function put(key: string, body: Uint8Array, contentType = "image/jpeg") {
    const { ETag } = await emulator.s3.send(new PutObjectCommand({ Bucket: "photos", Key: key, Body: body, ContentType: contentType }));
    return ETag!.replace(/"/g, "");
  }

  const message = (key: string, etag = "0") => ({
    messageId: key,
    body: s3EventMessage({ kind: "put", eventName: "ObjectCreated:Put", bucket: "photos", key, etag, size: 1, sequencer: nextSequencer() }),
  });

  it("stores the good photos of a batch and fails back only the bad ones, each with its reason logged", async () => {
    // Prepare
    const goodFiles = ["00d7a649.jpg", "01be2e32.jpg", "02fa3702.jpg", "04ee03a7.jpg", "05f63557.jpg", "0752a10c.jpg", "076cc693.jpg"];
    // Real photo names: a space, a plus, Unicode, and an existing bucket's sub-folders.
    const names = ["00d7a649.jpg", "my photo.jpg", "02fa3702.jpg", "a+b.jpg", "café ☕.jpg", "2024/05/IMG 0001.JPG", "IMG_1234 (1).jpg"];
    const good = await Promise.all(
      goodFiles.map(async (f, i) => message(`users/alice/${names[i]}`, await put(`users/alice/${names[i]}`, await readFile(join(PHOTOS, f))))),
    );
    const photo = await readFile(join(PHOTOS, goodFiles[0]));
    const bad = {
      empty: message("users/alice/empty.jpg", await put("users/alice/empty.jpg", new Uint8Array())),
      text: message("users/alice/text.jpg", await put("users/alice/text.jpg", Buffer.from("this is not a photo, only text named .jpg\n"))),
      truncated: message("users/alice/truncated.jpg", await put("users/alice/truncated.jpg", photo.subarray(0, Math.floor(photo.length * 0.4)))),
      huge: message("users/alice/huge.png", await put("users/alice/huge.png", pngClaiming(20000, 20000), "image/png")),
      // One 30 MB PUT, as S3 takes it: the poller, not the local S3, refuses it.
      big: message("users/alice/big.jpg", await put("users/alice/big.jpg", Buffer.alloc(30 * 1024 * 1024, 7))),
      emptySegment: message("users/alice/2024//x.jpg"),
      parentSegment: message("users/alice/2024/../x.jpg"),
      dotdot: message("users/../etc/passwd.jpg"),
      badUser: message("users/al!ce/x.jpg"),
    };
    const handler = localPollerHandler({ s3: emulator.s3, modelServerUrl: modelServer.url, store, model: mobilenetV2Int8, logger });

    // Act
    const folderMarker = message("users/alice/2024/"); // the S3 console's "Create folder": acknowledged, not failed
    const response = await handler({ Records: [...good.slice(0, 2), ...Object.values(bad), folderMarker, ...good.slice(2)] });

    // Assess
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(
      Object.values(bad)
        .map((m) => m.messageId)
        .sort(),
    );
    const snapshot = await store.read("alice");
    expect(snapshot.images.map((i) => i.key).sort()).toEqual(good.map((m) => m.messageId).sort());
    const reasonFor = (key: string) => logs.find((l) => l.message === "record failed" && l.key === key)?.reason as string;
    expect(reasonFor("users/alice/empty.jpg")).toMatch(/empty/);
    expect(reasonFor("users/alice/text.jpg")).toMatch(/not a photo/);
    expect(reasonFor("users/alice/truncated.jpg")).toMatch(/truncated|corrupt|not a readable image/);
    expect(reasonFor("users/alice/huge.png")).toMatch(/20000×20000, over 50 megapixels/);
    expect(reasonFor("users/alice/big.jpg")).toMatch(/over the .*-byte limit/);
    expect(snapshot.images.map((i) => i.imageId).sort()).toEqual(names.map((n) => n.slice(0, n.lastIndexOf("."))).sort());
    expect(logs.some((l) => l.key === "users/alice/2024/" && /folder marker/.test(String(l.message)))).toBe(true);
    expect(reasonFor("users/alice/2024//x.jpg")).toMatch(/image id has an empty segment/);
    expect(reasonFor("users/alice/2024/../x.jpg")).toMatch(/image id has a "\.\." segment/);
    expect(reasonFor("users/../etc/passwd.jpg")).toMatch(/user id must match/);
    expect(reasonFor("users/al!ce/x.jpg")).toMatch(/user id must match/);
  });

  it("acknowledges an event whose object was replaced since, and stores the newer one once", async () => {
    // Prepare
    const key = "users/bob/05f63557.jpg";
    const oldEtag = await put(key, await readFile(join(PHOTOS, "04ee03a7.jpg")));
    const newer = message(key, await put(key, await readFile(join(PHOTOS, "05f63557.jpg"))));
    const handler = localPollerHandler({ s3: emulator.s3, modelServerUrl: modelServer.url, store, model: mobilenetV2Int8, logger });
    // Act
    const first = await handler({ Records: [{ ...message(key, oldEtag), messageId: "old" }, newer] });
    const again = await handler({ Records: [newer] });
    // Assess
    expect(first.batchItemFailures).toEqual([]);
    expect(again.batchItemFailures).toEqual([]);
    const snapshot = await store.read("bob");
    expect(snapshot.images).toEqual([{ imageId: "05f63557", key, etag: newer.body.match(/"eTag":"(\w+)"/)![1] }]);
  });
});
