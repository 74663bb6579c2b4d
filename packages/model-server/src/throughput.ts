/**
 * Throughput of an embedder, for benchmarks and `eval`: model only (preprocessed tensors
 * through `embedTensors`, per batch size) and end to end (bytes through `embed`, at a given
 * concurrency). Medians over rounds, because the machine is usually shared.
 */
import type { Embedder } from "./embedder.ts";

export interface BatchFigure {
  batchSize: number;
  medianBatchMs: number;
  medianMsPerImage: number;
  imagesPerSecond: number;
}

export interface EndToEndFigure {
  concurrency: number;
  images: number;
  medianMsPerImage: number;
  imagesPerSecond: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs `embedTensors` on batches cut from `tensors` (reused cyclically), `rounds` times per batch size after `warmup`. */
export async function measureModelThroughput(
  embedder: Embedder,
  tensors: Float32Array[],
  options: { batchSizes?: number[]; rounds?: number; warmup?: number } = {},
): Promise<BatchFigure[]> {
  if (tensors.length === 0) throw new Error("measureModelThroughput needs at least one tensor");
  const { batchSizes = [1, 8], rounds = 20, warmup = 3 } = options;
  const length = tensors[0]!.length;
  const figures: BatchFigure[] = [];
  for (const batchSize of batchSizes) {
    const batch = new Float32Array(batchSize * length);
    for (let i = 0; i < batchSize; i++) batch.set(tensors[i % tensors.length]!, i * length);
    const times: number[] = [];
    for (let r = 0; r < warmup + rounds; r++) {
      const started = performance.now();
      await embedder.embedTensors(batch, batchSize);
      if (r >= warmup) times.push(performance.now() - started);
    }
    const medianBatchMs = median(times);
    figures.push({ batchSize, medianBatchMs, medianMsPerImage: medianBatchMs / batchSize, imagesPerSecond: (1000 * batchSize) / medianBatchMs });
  }
  return figures;
}

/** Embeds every image `rounds` times with up to `concurrency` in flight; the median is over rounds. */
export async function measureEndToEndThroughput(
  embedder: Embedder,
  images: Array<{ bytes: Uint8Array; contentType?: string }>,
  options: { concurrency?: number; rounds?: number } = {},
): Promise<EndToEndFigure> {
  if (images.length === 0) throw new Error("measureEndToEndThroughput needs at least one image");
  const { concurrency = 1, rounds = 3 } = options;
  const perImage: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let next = 0;
    const started = performance.now();
    const worker = async () => {
      while (next < images.length) {
        const image = images[next++]!;
        await embedder.embed(image.bytes, image.contentType);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, images.length) }, worker));
    perImage.push((performance.now() - started) / images.length);
  }
  const medianMsPerImage = median(perImage);
  return { concurrency, images: images.length, medianMsPerImage, imagesPerSecond: 1000 / medianMsPerImage };
}
