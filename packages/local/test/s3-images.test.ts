/**
 * The poller's S3 image source (functions/src/poller/s3-images.ts) on the emulated S3, through the
 * real SDK client: it reads a photo at exactly its event's etag and turns it into the model's input.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { mobilenetV2Int8, type ObjectChange } from "@photo-clusters/core";
import { createS3ImageSource } from "@photo-clusters/functions";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../src/emulator.ts";
import { PHOTOS } from "./test-runtime.ts";

describe("the poller's S3 image source", () => {
  let emulator: Emulator;
  beforeAll(async () => {
    emulator = await startEmulator();
  });
  afterAll(() => emulator?.stop());

  const put = async (key: string, body: Uint8Array) =>
    (await emulator.s3.send(new PutObjectCommand({ Bucket: "photos", Key: key, Body: body }))).ETag!.replace(/"/g, "");
  const change = (key: string, etag: string): ObjectChange => ({
    kind: "put",
    eventName: "ObjectCreated:Put",
    bucket: "photos",
    key,
    etag,
    size: 1,
    sequencer: "01",
  });

  it("reads a photo at its event's etag as the model's 224×224 input, and calls one replaced since gone", async () => {
    // Prepare
    const source = createS3ImageSource(emulator.s3, { maxObjectBytes: 25 * 1024 * 1024, preprocessing: mobilenetV2Int8.input.preprocessing });
    const photo = await readFile(join(PHOTOS, "4aaa68e8.jpg"));
    const first = await put("users/u/a.jpg", photo);
    const fetched = await source(change("users/u/a.jpg", first));
    await put("users/u/a.jpg", await readFile(join(PHOTOS, "68732b28.jpg")));

    // Act
    const replaced = await source(change("users/u/a.jpg", first));

    // Assess
    expect(fetched).not.toBe("gone");
    expect((fetched as { contentType: string }).contentType).toBe("image/webp");
    expect(await sharp((fetched as { bytes: Uint8Array }).bytes).metadata()).toMatchObject({ width: 224, height: 224 });
    expect(replaced).toBe("gone");
    expect(await source(change("users/u/never.jpg", "0"))).toBe("gone");
  });

  it("refuses an empty object and one over the size limit before decoding, each with its code", async () => {
    const source = createS3ImageSource(emulator.s3, { maxObjectBytes: 1000, preprocessing: mobilenetV2Int8.input.preprocessing });
    const empty = await put("users/u/empty.jpg", new Uint8Array());
    const big = await put("users/u/big.jpg", new Uint8Array(2000));

    await expect(source(change("users/u/empty.jpg", empty))).rejects.toMatchObject({ code: "empty_object", retryable: false });
    await expect(source(change("users/u/big.jpg", big))).rejects.toMatchObject({ code: "too_large", retryable: false });
  });
});
