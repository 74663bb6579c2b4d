/**
 * A model descriptor in a JSON file, as `photo-clusters calibrate` writes it, for the model server,
 * the functions and the local runtime to load instead of a built-in one (MODEL_DESCRIPTOR names the
 * file). Adding or recalibrating a model then needs no code change. Every field is checked on load,
 * and a bad one is refused with its path in the message (`defaults.calibration.cosine: …`).
 *
 *   { "format": 1, "model": <ModelDescriptor>, "fit"?: <how it was fitted, for people> }
 */
import { readFileSync } from "node:fs";
import { CoreError } from "./errors.ts";
import { MODELS, modelById, type ModelDescriptor } from "./models.ts";
import { checkCalibration, toCosine } from "./similarity/calibration.ts";

export const DESCRIPTOR_FORMAT = 1;

export class DescriptorError extends CoreError {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super("bad_descriptor", `${field}: ${problem}`);
  }
}

const MODEL_ID = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/** Parses and checks a descriptor file's text; `source` names it in messages. */
export function parseDescriptorFile(text: string, source = "descriptor"): ModelDescriptor {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new DescriptorError(source, `not JSON (${(cause as Error).message})`);
  }
  const file = object(json, "(file)");
  if (file.format !== DESCRIPTOR_FORMAT) throw new DescriptorError("format", `must be ${DESCRIPTOR_FORMAT}, got ${JSON.stringify(file.format)}`);
  return checkDescriptor(file.model);
}

export function descriptorFileText(model: ModelDescriptor, fit?: unknown): string {
  checkDescriptor(model);
  return `${JSON.stringify({ format: DESCRIPTOR_FORMAT, model, fit }, null, 2)}\n`;
}

type Json = Record<string, unknown>;

function object(v: unknown, field: string): Json {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new DescriptorError(field, "must be an object");
  return v as Json;
}
function text(v: unknown, field: string, pattern?: RegExp): string {
  if (typeof v !== "string" || v === "" || (pattern && !pattern.test(v)))
    throw new DescriptorError(field, `must be a string${pattern ? ` matching ${pattern}` : ""}, got ${JSON.stringify(v)}`);
  return v;
}
function number(v: unknown, field: string, min: number, max: number, integer = false): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new DescriptorError(field, `must be ${integer ? "an integer" : "a number"} from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}
function numbers(v: unknown, field: string, length?: number): number[] {
  if (!Array.isArray(v) || (length !== undefined && v.length !== length)) throw new DescriptorError(field, `must be a list of ${length ?? "some"} numbers`);
  return v.map((x, i) => number(x, `${field}[${i}]`, -1e6, 1e6));
}
function oneOf<T extends string>(v: unknown, field: string, values: readonly T[]): T {
  if (!values.includes(v as T)) throw new DescriptorError(field, `must be one of ${values.join(", ")}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** Checks every field of a descriptor (from a file or built in) and returns it typed. */
export function checkDescriptor(value: unknown): ModelDescriptor {
  const m = object(value, "model");
  const id = text(m.id, "model.id", MODEL_ID);
  const dimension = number(m.dimension, "model.dimension", 1, 65536, true);
  const source = object(m.source, "model.source");
  const input = object(m.input, "model.input");
  const p = object(input.preprocessing, "model.input.preprocessing");
  const feature = object(m.feature, "model.feature");
  const defaults = object(m.defaults, "model.defaults");
  const bands = object(defaults.bands, "model.defaults.bands");
  const size = number(p.size, "model.input.preprocessing.size", 1, 4096, true);
  const model: ModelDescriptor = {
    id,
    dimension,
    source: {
      url: text(source.url, "model.source.url", /^https:\/\//),
      sha256: text(source.sha256, "model.source.sha256", /^[0-9a-f]{64}$/),
      ...(source.bytes === undefined ? {} : { bytes: number(source.bytes, "model.source.bytes", 1, 2 ** 40, true) }),
    },
    input: {
      name: text(input.name, "model.input.name"),
      preprocessing: {
        resizeShorter: number(p.resizeShorter, "model.input.preprocessing.resizeShorter", size, 8192, true),
        size,
        mean: numbers(p.mean, "model.input.preprocessing.mean", 3) as [number, number, number],
        std: numbers(p.std, "model.input.preprocessing.std", 3).map((s, i) => number(s, `model.input.preprocessing.std[${i}]`, 1e-6, 1e6)) as [
          number,
          number,
          number,
        ],
        layout: oneOf(p.layout, "model.input.preprocessing.layout", ["NCHW"] as const),
      },
    },
    feature: {
      tensor: text(feature.tensor, "model.feature.tensor"),
      shape: oneOf(feature.shape, "model.feature.shape", ["NCHW-mean", "NC", "NC11"] as const),
    },
    defaults: {
      threshold: number(defaults.threshold, "model.defaults.threshold", 0, 1),
      graphFloor: number(defaults.graphFloor, "model.defaults.graphFloor", 0.01, 1),
      bands: { medium: number(bands.medium, "model.defaults.bands.medium", 0, 1), high: number(bands.high, "model.defaults.bands.high", 0, 1) },
    },
  };
  if (model.defaults.bands.medium > model.defaults.bands.high) throw new DescriptorError("model.defaults.bands", "medium must not be above high");
  if (defaults.calibration !== undefined) {
    const c = object(defaults.calibration, "model.defaults.calibration");
    const calibration = {
      cosine: numbers(c.cosine, "model.defaults.calibration.cosine"),
      similarity: numbers(c.similarity, "model.defaults.calibration.similarity"),
    };
    try {
      checkCalibration(calibration);
    } catch (error) {
      throw new DescriptorError("model.defaults.calibration", (error as Error).message);
    }
    model.defaults.calibration = calibration;
  }
  if (model.defaults.graphFloor > toCosine(model.defaults.threshold, model.defaults.calibration)) {
    throw new DescriptorError("model.defaults.graphFloor", "must not be above the default threshold's cosine (the graph could not answer the default query)");
  }
  if (m.postprocess !== undefined) {
    const post = object(m.postprocess, "model.postprocess");
    model.postprocess = { center: numbers(post.center, "model.postprocess.center", dimension) };
    // Post-processed vectors are not the base model's: they must never share its id (and its store files).
    if (MODELS[id] && !MODELS[id].postprocess)
      throw new DescriptorError("model.id", `"${id}" is a built-in model without post-processing; post-processed vectors need an id of their own`);
  }
  return model;
}

/** Reads and checks a descriptor file; a file that cannot be read is refused naming its path. */
export function readDescriptorFile(path: string): ModelDescriptor {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new DescriptorError(path, `cannot read it (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message})`);
  }
  return parseDescriptorFile(text, path);
}

/**
 * The model a process serves: the descriptor file when one is named, else the built-in `modelId`,
 * else `fallback`. A model id given beside a file must be the file's.
 */
export function chooseModel(o: { modelId?: string; descriptorPath?: string; fallback?: ModelDescriptor }): ModelDescriptor {
  if (o.descriptorPath) {
    const model = readDescriptorFile(o.descriptorPath);
    if (o.modelId && o.modelId !== model.id)
      throw new DescriptorError("model.id", `the descriptor file is for "${model.id}", but model id "${o.modelId}" was asked for`);
    return model;
  }
  if (!o.modelId && o.fallback) return o.fallback;
  return modelById(o.modelId ?? "");
}
