import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mobilenetV2Int8 } from "@photo-clusters/core";
import { createEmbedder, l2NormaliseRows, type Embedder } from "./embedder.ts";
import { InferenceError, ModelFileError } from "./errors.ts";
import { cosine, groups, MODEL_PATH, photo, rotatedCopy } from "../test/testing.ts";

let embedder: Embedder;
beforeAll(async () => {
  embedder = await createEmbedder({ modelPath: MODEL_PATH, model: mobilenetV2Int8 });
});
afterAll(() => embedder?.close());

const FILE = "00d7a649.jpg";

describe("createEmbedder with MobileNetV2", () => {
  it("returns a unit-norm 1280-d vector", async () => {
    const v = await embedder.embed(photo(FILE), "image/jpeg");
    expect(v).toBeInstanceOf(Float32Array);
    expect(v.length).toBe(1280);
    expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    expect(v.filter((x) => x !== 0).length).toBeGreaterThan(1000);
  });

  it("returns the same vector for the same bytes", async () => {
    const a = await embedder.embed(photo(FILE));
    const b = await embedder.embed(photo(FILE));
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it("embeds a batch exactly like single images", async () => {
    // Prepare
    const files = ["00d7a649.jpg", "01be2e32.jpg", "02fa3702.jpg"];
    const tensors = await Promise.all(files.map((f) => embedder.preprocess(photo(f))));
    const batch = new Float32Array(tensors.length * tensors[0]!.length);
    for (const [i, t] of tensors.entries()) batch.set(t, i * t.length);
    // Act
    const rows = await embedder.embedTensors(batch, files.length);
    // Assess
    for (const [i, t] of tensors.entries()) {
      const single = await embedder.embedTensors(t, 1);
      expect(cosine(rows.subarray(i * 1280, (i + 1) * 1280), single)).toBeGreaterThan(0.9999);
    }
  });

  it("applies EXIF orientation: a rotated copy tagged to display upright embeds like the original", async () => {
    // Prepare
    const original = photo(FILE);
    const tagged = await rotatedCopy(original, true);
    const untagged = await rotatedCopy(original, false);
    // Act
    const [a, b, c] = await Promise.all([original, tagged, untagged].map((bytes) => embedder.embed(bytes)));
    // Assess
    expect(cosine(a!, b!)).toBeGreaterThan(0.96);
    expect(cosine(a!, c!)).toBeLessThan(cosine(a!, b!) - 0.05);
  });

  it("embeds PNG and WebP versions of a JPEG nearly identically", async () => {
    // Prepare
    const jpeg = photo(FILE);
    const png = await sharp(jpeg).png().toBuffer();
    const webp = await sharp(jpeg).webp({ quality: 90 }).toBuffer();
    // Act
    const [a, b, c] = await Promise.all([embedder.embed(jpeg, "image/jpeg"), embedder.embed(png, "image/png"), embedder.embed(webp, "image/webp")]);
    // Assess
    expect(cosine(a, b)).toBeGreaterThan(0.999);
    expect(cosine(a, c)).toBeGreaterThan(0.96);
  });

  it("puts photos of the same group closer than photos of different groups, on average", async () => {
    // Prepare
    const rows = groups();
    const vectors = new Map<string, Float32Array>();
    for (const { file } of rows) vectors.set(file, await embedder.embed(photo(file)));
    // Act
    let same = 0;
    let sameCount = 0;
    let different = 0;
    let differentCount = 0;
    for (let i = 0; i < rows.length; i++) {
      for (let j = i + 1; j < rows.length; j++) {
        const s = cosine(vectors.get(rows[i]!.file)!, vectors.get(rows[j]!.file)!);
        if (rows[i]!.group === rows[j]!.group) {
          same += s;
          sameCount++;
        } else {
          different += s;
          differentCount++;
        }
      }
    }
    // Assess
    expect(sameCount).toBeGreaterThan(50);
    expect(same / sameCount).toBeGreaterThan(different / differentCount + 0.15);
  });

  it("fails with a clear error for a missing file", async () => {
    await expect(createEmbedder({ modelPath: "/nonexistent/model.onnx", model: mobilenetV2Int8 })).rejects.toThrow(ModelFileError);
  });

  it("fails with a clear error when the feature tensor is not in the graph", async () => {
    const wrong = { ...mobilenetV2Int8, feature: { tensor: "not-a-tensor", shape: "NC" as const } };
    await expect(createEmbedder({ modelPath: MODEL_PATH, model: wrong })).rejects.toThrow(/no node of the graph produces tensor "not-a-tensor"/);
  });
});

describe("l2NormaliseRows", () => {
  it("leaves an all-zero row at zero instead of NaN", () => {
    const rows = l2NormaliseRows(new Float32Array([3, 4, 0, 0]), 2);
    expect(Array.from(rows)).toEqual([0.6000000238418579, 0.800000011920929, 0, 0]);
  });
});

describe("createEmbedder with inference on a worker thread", () => {
  it("gives concurrent requests their own image's vector, as the inline session does", async () => {
    // Prepare
    const worker = await createEmbedder({ modelPath: MODEL_PATH, model: mobilenetV2Int8, inference: "worker", maxBatch: 4 });
    const files = groups()
      .slice(0, 10)
      .map((r) => r.file);
    try {
      // Act: ten at once, so the worker coalesces them into batches of up to four
      const vectors = await Promise.all(files.map((f) => worker.embed(photo(f))));
      // Assess
      for (const [i, f] of files.entries()) {
        expect(vectors[i]!.length).toBe(1280);
        expect(cosine(vectors[i]!, await embedder.embed(photo(f)))).toBeGreaterThan(0.9999);
      }
    } finally {
      await worker.close();
    }
  });

  it("leaves the caller's tensors intact and refuses work once closed", async () => {
    // Prepare
    const worker = await createEmbedder({ modelPath: MODEL_PATH, model: mobilenetV2Int8, inference: "worker" });
    const tensor = await worker.preprocess(photo(FILE));
    // Act
    const rows = await worker.embedTensors(tensor, 1);
    await worker.close();
    // Assess
    expect(tensor.length).toBe(3 * 224 * 224);
    expect(cosine(rows, await embedder.embedTensors(tensor, 1))).toBeGreaterThan(0.9999);
    await expect(worker.embed(photo(FILE))).rejects.toThrow(InferenceError);
  });

  it("fails to load a file that is not the model, with a ModelFileError", async () => {
    const wrong = { ...mobilenetV2Int8, input: { ...mobilenetV2Int8.input, name: "not-the-input" } };
    await expect(createEmbedder({ modelPath: MODEL_PATH, model: wrong, inference: "worker" })).rejects.toThrow(ModelFileError);
  });
});
