import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { chooseModel, descriptorFileText, parseDescriptorFile } from "./descriptor-file.ts";
import { mobilenetV2Int8, resnet50V1 } from "./models.ts";

const file = (edit: (json: { format: unknown; model: Record<string, any> }) => void) => {
  const json = JSON.parse(descriptorFileText(mobilenetV2Int8));
  edit(json);
  return JSON.stringify(json);
};

describe("model descriptor files", () => {
  it("reads back what it wrote, the built-in descriptors included", () => {
    for (const model of [mobilenetV2Int8, resnet50V1]) expect(parseDescriptorFile(descriptorFileText(model, { note: "fit" }))).toEqual(model);
  });

  it.each([
    ["format", (j: any) => (j.format = 2), "format: must be 1, got 2"],
    ["an id that is no file name", (j: any) => (j.model.id = "../x"), "model.id: must be a string matching"],
    [
      "a calibration out of order",
      (j: any) => (j.model.defaults.calibration.cosine = [0, 0.9, 0.8, 0.85, 1]),
      "model.defaults.calibration: calibration knots must be two strictly increasing lists",
    ],
    [
      "a floor above the default threshold",
      (j: any) => (j.model.defaults.graphFloor = 0.9),
      "model.defaults.graphFloor: must not be above the default threshold's cosine",
    ],
    [
      "a centre of the wrong length",
      (j: any) => {
        j.model.id = "m-centred";
        j.model.postprocess = { center: [0, 1] };
      },
      "model.postprocess.center: must be a list of 1280 numbers",
    ],
    [
      "a built-in id for post-processed vectors",
      (j: any) => (j.model.postprocess = { center: new Array(1280).fill(0) }),
      'model.id: "mobilenetv2-12-int8" is a built-in model without post-processing',
    ],
    ["a missing feature tensor", (j: any) => delete j.model.feature.tensor, "model.feature.tensor: must be a string"],
  ])("refuses %s, naming the field", (_, edit, message) => {
    expect(() => parseDescriptorFile(file(edit))).toThrow(message);
  });

  it("serves the named file, and refuses one whose id is not the model id asked for", async () => {
    const dir = await mkdtemp(join(tmpdir(), "descriptor-"));
    try {
      const path = join(dir, "m.json");
      await writeFile(
        path,
        file((j) => (j.model.defaults.threshold = 0.9)),
      );
      expect(chooseModel({ descriptorPath: path }).defaults.threshold).toBe(0.9);
      expect(() => chooseModel({ descriptorPath: path, modelId: resnet50V1.id })).toThrow(
        `the descriptor file is for "${mobilenetV2Int8.id}", but model id "${resnet50V1.id}" was asked for`,
      );
      expect(() => chooseModel({ descriptorPath: join(dir, "none.json") })).toThrow(/none\.json: cannot read it \(ENOENT\)/);
      expect(chooseModel({ fallback: mobilenetV2Int8 })).toBe(mobilenetV2Int8);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
