import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { basename, join } from "node:path";
import {
  mobilenetV2Int8,
  pairwiseScores,
  parseGroupsCsv,
  parseObjectKey,
  plainFit,
  type Snapshot,
  silentLogger,
  subset,
  type UserView,
} from "@photo-clusters/core";
import { createEmbedder, resolveModelPath } from "@photo-clusters/model-server";
import { startLocalRuntime } from "../runtime.ts";
import { clustersUrl, getAllClusters } from "./api-client.ts";
import { progressBar } from "./progress.ts";
import { bestOnBursts, bestOnGroups, duplicateBounds, readManifest } from "./eval-review.ts";
import { crossValidatedSection, scoresTable } from "./scores-table.ts";
import { collectPhotos, putToBucket, uploadPhotos } from "./upload.ts";

/**
 * `eval <dir>`: the whole local pipeline on a folder with groups.csv (file,group), measured the
 * way a user meets it: uploads through S3, clusters read over HTTP with a token.
 */
export async function runEval(dir: string, options: { thresholds?: number[]; modelPath?: string } = {}): Promise<void> {
  const model = mobilenetV2Int8;
  const groups = await readGroups(join(dir, "groups.csv"));
  const modelPath = await resolveModelPath(model, { modelPath: options.modelPath });
  const dataDir = await mkdtemp(join(tmpdir(), "photo-clusters-eval-"));
  let stop: (() => Promise<void>) | undefined;
  try {
    const runtime = await startLocalRuntime({
      port: 0,
      emulatorPort: 0,
      dataDir,
      modelPath,
      model,
      // As quiet as its logs: stdout carries only the report.
      queueDelaySeconds: 1,
      visibilityTimeoutSeconds: 30,
      maxReceiveCount: 3,
      logger: silentLogger,
      writeMetrics: () => {},
    });
    stop = runtime.stop;
    const userId = `eval-${Date.now().toString(36)}`;
    const items = await collectPhotos(userId, [dir]);
    const fileOf = new Map(items.map((i) => [parseObjectKey(i.key).imageId, basename(i.path)]));
    const started = performance.now();
    let view: UserView | undefined; // each poll reads only what was stored since the last
    // Watch the store while uploading, so a photo stored during the upload gets its own time.
    const [, { times, steady, cpuMsPerPhoto }] = await Promise.all([
      uploadPhotos(putToBucket(runtime.emulator.s3, "photos"), items, { quiet: true }),
      waitUntilStored(
        () =>
          runtime.store.readView(userId, view).then((v) => {
            view = v;
            return v.imageCount;
          }),
        items.length,
        () => {
          const own = process.cpuUsage();
          return { runtime: (own.user + own.system) / 1000, modelServer: processCpuMs(runtime.modelServerPid) };
        },
      ),
    ]);
    const stored = times.length;

    const token = await runtime.auth.issueDevToken(userId, 600);
    const thresholds = [...new Set([...(options.thresholds?.length ? options.thresholds : [0.8, 0.85, 0.9]), model.defaults.threshold])];
    const rows = [];
    for (const threshold of thresholds) {
      const body = await getAllClusters(clustersUrl(runtime.apiUrl, userId, threshold, 2), token);
      const predicted = body.clusters.map((c) => c.images.map((i) => fileOf.get(i.imageId)!));
      rows.push({ threshold, ...pairwiseScores(predicted, groups), clusters: body.clusters.length });
    }

    // Cross-validation needs the vectors: the same ones the API clustered, read from the store.
    const snapshot = await runtime.store.read(userId);
    const groupOfRow = snapshot.images.map((img) => groups.get(fileOf.get(img.imageId)!));
    const labelledRows = groupOfRow.flatMap((g, row) => (g === undefined ? [] : [row]));
    const labelledSet = subset(
      { vectors: snapshot.vectors, n: groupOfRow.length, d: snapshot.dimension, groups: groupOfRow.map((g) => g ?? "") },
      labelledRows,
    );

    const endToEnd = stored / ((times.at(-1)! - started) / 1000);
    const modelAlone = await modelThroughput(
      modelPath,
      items.map((i) => i.path),
    );

    const out = process.stdout;
    out.write(
      `\neval of ${dir}: ${items.length} photos, ${new Set(groups.values()).size} groups, model ${model.id} (default threshold ${model.defaults.threshold})\n`,
    );
    out.write(`stored ${stored}/${items.length}${stored < items.length ? "  (missing ones are in the dead-letter queue; see the logs)" : ""}\n\n`);
    out.write(
      `in-sample: clustered by the API with ${model.id}'s own calibration and graph floor${model.id === mobilenetV2Int8.id ? " (fitted on the dev photos: in-sample for them)" : ""}\n`,
    );
    out.write(scoresTable(rows));
    out.write(`\n${crossValidatedSection(labelledSet, plainFit, "calibration, graph floor and default threshold").text}`);
    out.write(`\n${await reviewSection(dir, snapshot, (imageId) => fileOf.get(imageId))}`);
    let ceiling: number | undefined;
    if (steady) {
      out.write(
        `\ningestion   ${steady.rate.toFixed(1)} photos/s steady (first to last stored); ${endToEnd.toFixed(1)} photos/s from first upload, including the queue's 1 s delivery delay\n`,
      );
      out.write(
        `            CPU per photo over the same span: runtime ${cpuMsPerPhoto.runtime.toFixed(2)} ms (S3, SQS, poller, writer, API, and eval's polling)`,
      );
      if (Number.isFinite(cpuMsPerPhoto.modelServer)) {
        const total = cpuMsPerPhoto.runtime + cpuMsPerPhoto.modelServer;
        const cores = availableParallelism();
        ceiling = (cores * 1000) / total;
        out.write(`, model server ${cpuMsPerPhoto.modelServer.toFixed(2)} ms (decode, inference, HTTP)\n`);
        out.write(`            ${total.toFixed(1)} ms of CPU a photo: ${cores} cores could ingest at most ${ceiling.toFixed(0)} photos/s\n`);
      } else out.write("\n");
    } else {
      out.write(
        `\ningestion   ${endToEnd.toFixed(1)} photos/s from first upload, including the queue's 1 s delivery delay; too few photos for a steady rate (it needs ${MIN_STEADY_PHOTOS} photos or more, over ${MIN_STEADY_SECONDS} s of storing or more)\n`,
      );
    }
    out.write(`model alone ${modelAlone.batch1.toFixed(1)} photos/s (inference on preprocessed tensors, batch 1, median of 3 runs)\n`);
    out.write(`            ${modelAlone.batch8.toFixed(1)} photos/s at batch 8, the largest batch the model server coalesces\n`);
    // The target: steady ingestion against what the cores allow at the CPU a photo was measured to take.
    if (steady && ceiling !== undefined)
      out.write(`ratio       ${((steady.rate / ceiling) * 100).toFixed(0)}% of the ceiling of ${ceiling.toFixed(0)} photos/s (target: 85% or more)\n`);
    else if (steady) out.write("ratio       not measured: the model server's CPU is read from /proc (Linux only)\n");
  } finally {
    await stop?.();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * The best shot and the duplicates (eval-review.ts): on the groups and their pairs when the folder has
 * a manifest.csv naming each photo's role and edit, and on bursts made from its originals (from its
 * first 50 photos without a manifest).
 */
async function reviewSection(dir: string, snapshot: Snapshot, fileOf: (imageId: string) => string | undefined): Promise<string> {
  const manifest = await readManifest(dir);
  const factsByFile = new Map(snapshot.images.map((img, row) => [fileOf(img.imageId), snapshot.facts?.(row) ?? null]));
  const sources = manifest
    ? manifest.filter((r) => r.role === "original").map((r) => join(dir, r.file))
    : [...factsByFile.keys()]
        .filter((f): f is string => f !== undefined)
        .slice(0, 50)
        .map((f) => join(dir, f));
  const bar = progressBar(2 * sources.length, "bursts");
  const bursts = [];
  for (const severity of ["strong", "mild"] as const)
    bursts.push(await bestOnBursts(sources, severity, (done) => bar.update(done + (severity === "mild" ? sources.length : 0))));
  bar.done(2 * sources.length);
  if (!manifest) return `no manifest.csv: the best shot is measured on bursts only\n\n${bursts.join("\n")}`;
  return [await bestOnGroups(dir, manifest, (file) => factsByFile.get(file) ?? null), ...bursts, duplicateBounds(snapshot, manifest, fileOf)].join("\n");
}

export async function readGroups(path: string): Promise<Map<string, string>> {
  const text = await readFile(path, "utf8").catch(() => {
    throw new Error(`${path} not found: eval needs a groups.csv with lines "file,group"`);
  });
  return parseGroupsCsv(text);
}

type CpuMs = Record<"runtime" | "modelServer", number>;

/**
 * The steady span must last this long, or its rate is mostly the 100 ms polling's rounding, and hold
 * this many photos (a small folder stored slowly on a busy machine is still too small to say much).
 */
const MIN_STEADY_SECONDS = 1;
const MIN_STEADY_PHOTOS = 200;

/**
 * When each photo became readable, polled every 100 ms. The steady span runs from the first poll
 * that saw a photo to the last poll that saw a new one: its rate counts the photos stored after
 * the first poll, and the processes' CPU (user + system) is divided among those same photos.
 * Gives up after 60 s without progress.
 */
async function waitUntilStored(
  count: () => Promise<number>,
  total: number,
  cpu: () => CpuMs,
): Promise<{ times: number[]; steady?: { rate: number }; cpuMsPerPhoto: CpuMs }> {
  const bar = progressBar(total, "stored");
  const times: number[] = [];
  let cpuAtFirst: CpuMs | undefined;
  let cpuAtLast: CpuMs | undefined;
  let storedAtFirst = 0;
  let lastProgress = performance.now();
  while (times.length < total && performance.now() - lastProgress < 60_000) {
    const n = await count();
    if (n > times.length) lastProgress = performance.now();
    if (n > times.length) {
      cpuAtLast = cpu();
      if (!cpuAtFirst) {
        cpuAtFirst = cpuAtLast;
        storedAtFirst = n;
      }
    }
    while (times.length < n) times.push(performance.now());
    bar.update(times.length);
    await new Promise((r) => setTimeout(r, 100));
  }
  bar.done(times.length);
  const photos = times.length - storedAtFirst;
  const seconds = times.length ? (times.at(-1)! - times[0]!) / 1000 : 0;
  const perPhoto = (k: keyof CpuMs) => (cpuAtFirst && cpuAtLast && photos > 0 ? (cpuAtLast[k] - cpuAtFirst[k]) / photos : NaN);
  return {
    times,
    steady: seconds >= MIN_STEADY_SECONDS && times.length >= MIN_STEADY_PHOTOS ? { rate: photos / seconds } : undefined,
    cpuMsPerPhoto: { runtime: perPhoto("runtime"), modelServer: perPhoto("modelServer") },
  };
}

/** A process's CPU time (user + system) in ms from /proc, NaN where there is no /proc (macOS). */
function processCpuMs(pid: number): number {
  try {
    // Fields after the command name; utime and stime are the 12th and 13th, in USER_HZ (100 a second).
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/** Inference alone on the photos' tensors, in photos/s: batch 1 and batch 8, each the median of 3 runs. */
async function modelThroughput(modelPath: string, paths: string[]): Promise<{ batch1: number; batch8: number }> {
  const embedder = await createEmbedder({ modelPath, model: mobilenetV2Int8 });
  try {
    const tensors = await Promise.all(paths.map(async (p) => embedder.preprocess(await readFile(p))));
    const batches = (size: number) => {
      if (size === 1) return tensors.map((data) => ({ data, count: 1 }));
      const out: Array<{ data: Float32Array; count: number }> = [];
      for (let i = 0; i < tensors.length; i += size) {
        const part = tensors.slice(i, i + size);
        const data = new Float32Array(part.length * part[0]!.length);
        for (const [k, t] of part.entries()) data.set(t, k * t.length);
        out.push({ data, count: part.length });
      }
      return out;
    };
    const measure = async (size: number) => {
      const prepared = batches(size);
      const runs: number[] = [];
      for (let run = 0; run < 3; run++) {
        const t0 = performance.now();
        for (const b of prepared) await embedder.embedTensors(b.data, b.count);
        runs.push(tensors.length / ((performance.now() - t0) / 1000));
      }
      return runs.sort((a, b) => a - b)[1]!;
    };
    return { batch1: await measure(1), batch8: await measure(8) };
  } finally {
    await embedder.close();
  }
}
