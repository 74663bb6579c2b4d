/**
 * `calibrate <dir with groups.csv>`: embeds the labelled photos with the model file or a deployed
 * endpoint, fits the model's calibration, graph floor and default threshold (and, with --center,
 * its mean-centering) on them, prints in-sample and cross-validated F1, and writes a descriptor file
 * that MODEL_DESCRIPTOR makes the model server, the functions and the local runtime use.
 */
import { createHash } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import {
  contentTypeOf,
  descriptorFileText,
  type Fit,
  fitDefaults,
  type LabelledSet,
  meanRow,
  modelById,
  type ModelDescriptor,
  postprocessRows,
  readDescriptorFile,
  scoreAt,
  SCORED_THRESHOLDS,
} from "@photo-clusters/core";
import { createSageMakerEmbedder } from "@photo-clusters/functions";
import { createEmbedder, resolveModelPath } from "@photo-clusters/model-server";
import { readGroups } from "./eval.ts";
import { progressBar } from "./progress.ts";
import { crossValidatedSection, scoresTable } from "./scores-table.ts";

export interface CalibrateOptions {
  /** A built-in model id or a descriptor file to start from (default mobilenetv2-12-int8). */
  model?: string;
  modelPath?: string;
  /** Embed through this SageMaker endpoint instead of the model file. */
  endpoint?: string;
  /** The SageMaker runtime's URL (e.g. a local model server); default the AWS one for the region. */
  endpointUrl?: string;
  region?: string;
  center?: boolean;
  out: string;
}

export async function runCalibrate(dir: string, options: CalibrateOptions): Promise<ModelDescriptor> {
  const groupOf = await readGroups(join(dir, "groups.csv"));
  const files = (await readdir(dir)).filter((f) => groupOf.has(f)).sort();
  if (files.length < groupOf.size) throw new Error(`groups.csv lists ${groupOf.size - files.length} photos that are not in ${dir}`);
  const start = options.model?.endsWith(".json") ? readDescriptorFile(options.model) : modelById(options.model ?? "mobilenetv2-12-int8");
  // Fitting starts from the model's own vectors: any post-processing is fitted again.
  const base: ModelDescriptor = { ...start, id: start.id.replace(/-centred-[0-9a-f]{8}$/, ""), postprocess: undefined };
  const d = base.dimension;

  const vectors = new Float32Array(files.length * d);
  const bar = progressBar(files.length, "embedded");
  const embed = await embedderFor(base, options);
  try {
    for (const [row, file] of files.entries()) {
      vectors.set(await embed(await readFile(join(dir, file)), contentTypeOf(file)), row * d);
      bar.update(row + 1);
    }
  } finally {
    bar.done(files.length);
    await embed.close();
  }
  const set: LabelledSet = { vectors, n: files.length, d, groups: files.map((f) => groupOf.get(f)!) };

  const fit: Fit = options.center
    ? (train) => {
        const center = meanRow(train.vectors, train.n, d);
        const transform = (s: LabelledSet) => ({ ...s, vectors: postprocessRows(s.vectors.slice(), s.n, { dimension: d, postprocess: { center } }) });
        return { defaults: fitDefaults(transform(train)), transform, center };
      }
    : (train) => ({ defaults: fitDefaults(train), transform: (s) => s });
  const all = fit(set);
  const inSample = SCORED_THRESHOLDS.map((threshold) => ({ threshold, ...scoreAt(all.transform(set), all.defaults, threshold) }));
  const what = options.center ? "mean-centering, calibration, graph floor and default threshold" : "calibration, graph floor and default threshold";
  const cv = crossValidatedSection(set, fit, what);

  const model: ModelDescriptor = {
    ...base,
    id: all.center ? `${base.id}-centred-${createHash("sha256").update(Float32Array.from(all.center)).digest("hex").slice(0, 8)}` : base.id,
    defaults: all.defaults,
    ...(all.center ? { postprocess: { center: all.center } } : {}),
  };
  const report = {
    photos: set.n,
    groups: new Set(set.groups).size,
    folder: dir,
    embeddedWith: options.endpoint ? `endpoint ${options.endpoint}` : "model file",
    fittedAt: new Date().toISOString(),
    inSample: inSample.map(({ threshold, precision, recall, f1 }) => ({ threshold, precision, recall, f1 })),
    crossValidated: cv.rows,
  };
  await writeFile(options.out, descriptorFileText(model, report));

  const out = process.stdout;
  out.write(`\ncalibrate ${dir}: ${set.n} photos, ${report.groups} groups, model ${model.id}${all.center ? ` (${base.id}, mean-centred)` : ""}\n`);
  const knots = all.defaults.calibration!;
  out.write(
    `fitted: similarity ${knots.similarity.slice(1, -1).join(" / ")} at cosine ${knots.cosine.slice(1, -1).join(" / ")}; graph floor ${all.defaults.graphFloor}; default threshold ${all.defaults.threshold}\n\n`,
  );
  out.write(`in-sample: fitted on all these photos and scored on them\n${scoresTable(inSample)}\n${cv.text}\n`);
  out.write(`wrote ${options.out}: use it with MODEL_DESCRIPTOR=${options.out}\n`);
  return model;
}

type Embed = ((bytes: Uint8Array, contentType: string) => Promise<Float32Array>) & { close(): Promise<void> };

async function embedderFor(model: ModelDescriptor, options: CalibrateOptions): Promise<Embed> {
  if (options.endpoint) {
    const client = new SageMakerRuntimeClient({
      region: options.region ?? "us-east-1",
      ...(options.endpointUrl ? { endpoint: options.endpointUrl } : {}),
    });
    const invoke = createSageMakerEmbedder(client, options.endpoint);
    return Object.assign(
      async (bytes: Uint8Array, contentType: string) => {
        const reply = await invoke({ bytes, contentType });
        if (reply.model !== model.id)
          throw new Error(`endpoint ${options.endpoint} serves model "${reply.model}", not "${model.id}"; name its model with --model`);
        return reply.vector;
      },
      { close: async () => client.destroy() },
    );
  }
  const embedder = await createEmbedder({ modelPath: await resolveModelPath(model, { modelPath: options.modelPath }), model });
  return Object.assign((bytes: Uint8Array, contentType: string) => embedder.embed(bytes, contentType), { close: () => embedder.close() });
}
