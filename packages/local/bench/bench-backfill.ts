/**
 * `backfill` bench: objects enqueued per second by `photo-clusters backfill` against the local
 * emulator (listing with ListObjectsV2, SendMessageBatch of 10), no rate cap, n objects stated.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { PurgeQueueCommand } from "@aws-sdk/client-sqs";
import { backfill } from "../src/cli/backfill.ts";
import { listBucket } from "../src/cli/object-listing.ts";
import { startEmulator } from "../src/emulator.ts";

export async function benchBackfill(n = 2000, runs = 5): Promise<Record<string, unknown>> {
  const emulator = await startEmulator();
  const dir = await mkdtemp(join(tmpdir(), "bench-backfill-"));
  try {
    for (let i = 0; i < n; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, n - i) }, (_, k) =>
          emulator.s3.send(new PutObjectCommand({ Bucket: "photos", Key: `users/u${(i + k) % 20}/img${i + k}.jpg`, Body: Buffer.from(`photo ${i + k}`) })),
        ),
      );
    }
    const times: number[] = [];
    for (let run = 0; run < runs; run++) {
      await emulator.sqs.send(new PurgeQueueCommand({ QueueUrl: emulator.queueUrl }));
      const started = performance.now();
      const result = await backfill({
        sqs: emulator.sqs,
        queueUrl: emulator.queueUrl,
        bucket: "photos",
        prefix: "users/",
        rate: Number.MAX_SAFE_INTEGER,
        dryRun: false,
        listing: { kind: "bucket", list: (after) => listBucket(emulator.s3, "photos", "users/", after) },
        isStored: async () => false,
        checkpointDir: join(dir, String(run)),
        quiet: true,
      });
      if (result.enqueued !== n) throw new Error(`enqueued ${result.enqueued} of ${n}`);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    const median = times[times.length >> 1];
    return { case: "backfill", n, median_ms: Math.round(median), runs, objects_per_s: Math.round(n / (median / 1000)) };
  } finally {
    await emulator.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
