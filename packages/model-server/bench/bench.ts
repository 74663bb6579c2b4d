/**
 * Prints embedder throughput on the dev photos: model only at batch 1/4/8 and end to end at
 * concurrency 1 and 4, for each thread count, then end to end with inference on a worker thread
 * (what the server runs) at concurrency 1 and 8. A script, never a timed assertion.
 *
 *   pnpm --filter @photo-clusters/model-server bench [photoDir] [count]
 */
import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { mobilenetV2Int8 } from "@photo-clusters/core";
import { createEmbedder } from "../src/embedder.ts";
import { resolveModelPath } from "../src/model-file.ts";
import { measureEndToEndThroughput, measureModelThroughput } from "../src/throughput.ts";

const dir = resolve(process.argv[2] ?? join(import.meta.dirname, "../../../../shared/data/dev-photos"));
const count = Number(process.argv[3] ?? 32);
const files = (await readdir(dir))
  .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
  .sort()
  .slice(0, count);
const images = await Promise.all(files.map(async (f) => ({ bytes: await readFile(join(dir, f)) })));
const modelPath = await resolveModelPath(mobilenetV2Int8, { modelPath: process.env.MODEL_PATH });

for (const threads of [1, 2]) {
  const embedder = await createEmbedder({ modelPath, model: mobilenetV2Int8, threads });
  const tensors = await Promise.all(images.map((i) => embedder.preprocess(i.bytes)));
  for (const f of await measureModelThroughput(embedder, tensors, { batchSizes: [1, 4, 8, 1, 8], rounds: 25 })) {
    console.log(
      `threads=${threads} model-only batch=${f.batchSize}: ${f.medianBatchMs.toFixed(1)} ms/batch, ${f.medianMsPerImage.toFixed(2)} ms/image, ${f.imagesPerSecond.toFixed(0)} images/s`,
    );
  }
  for (const concurrency of [1, 4]) {
    const f = await measureEndToEndThroughput(embedder, images, { concurrency, rounds: 3 });
    console.log(
      `threads=${threads} end-to-end concurrency=${concurrency}: ${f.medianMsPerImage.toFixed(2)} ms/image, ${f.imagesPerSecond.toFixed(0)} images/s (${f.images} photos)`,
    );
  }
  await embedder.close();
}

const worker = await createEmbedder({ modelPath, model: mobilenetV2Int8, inference: "worker" });
for (const concurrency of [1, 8]) {
  const f = await measureEndToEndThroughput(worker, images, { concurrency, rounds: 3 });
  console.log(
    `worker end-to-end concurrency=${concurrency}: ${f.medianMsPerImage.toFixed(2)} ms/image, ${f.imagesPerSecond.toFixed(0)} images/s (${f.images} photos)`,
  );
}
await worker.close();
