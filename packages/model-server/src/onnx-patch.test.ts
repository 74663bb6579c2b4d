import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { exposeTensor, findGraph, graphTensorNames } from "./onnx-patch.ts";
import { MODEL_PATH } from "../test/testing.ts";

const model = readFileSync(MODEL_PATH);

describe("exposeTensor", () => {
  it("adds the internal feature tensor as a graph output after the logits", () => {
    // Act
    const patched = exposeTensor(model, "627");
    // Assess
    expect(graphTensorNames(model).outputs).toEqual(["output"]);
    expect(graphTensorNames(patched).outputs).toEqual(["output", "627"]);
  });

  it("keeps every other byte of the model as it was", () => {
    // Act
    const patched = exposeTensor(model, "627");
    // Assess: the bytes before and after the graph field, and the whole old graph, are untouched.
    const before = findGraph(model);
    const after = findGraph(patched);
    const tail = model.length - before.end;
    expect(Buffer.compare(patched.subarray(0, before.start), model.subarray(0, before.start))).toBe(0);
    expect(Buffer.compare(patched.subarray(patched.length - tail), model.subarray(before.end))).toBe(0);
    const oldGraph = model.subarray(before.payloadStart, before.end);
    expect(Buffer.compare(patched.subarray(after.payloadStart, after.payloadStart + oldGraph.length), oldGraph)).toBe(0);
    expect(after.end - after.payloadStart - oldGraph.length).toBeLessThan(32);
  });

  it("returns the model unchanged when the tensor already is an output", () => {
    expect(exposeTensor(model, "output")).toBe(model);
  });

  it("refuses a tensor that no node produces", () => {
    expect(() => exposeTensor(model, "no-such-tensor")).toThrow(/no node of the graph produces tensor "no-such-tensor"/);
  });

  it("refuses bytes that are not an ONNX model", () => {
    expect(() => exposeTensor(new TextEncoder().encode("hello, not a model"), "627")).toThrow(/not an ONNX ModelProto/);
  });
});
