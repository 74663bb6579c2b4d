/**
 * What one phone photo costs at the edge (`pnpm bench --edge`): the figures `pnpm cost` prices.
 *
 * Phone-sized photos are made at run time, in a temp folder, from the dev photos: 12 MP (4032×3024)
 * JPEGs at quality 92, and HEICs of the same pixels by Debian's heif-enc (quality 50, with a 320 px
 * thumbnail, as iPhones write them). Upscaled dev photos are smoother than a sensor's, so their
 * files are smaller than a phone's (`source_bytes` says how large); nothing priced depends on it.
 *
 * - `edge` (one line per format): `endpoint_bytes_median`, the body the poller sends the endpoint;
 *   `poller_ms_median`, the poller's CPU time to decode and prepare one photo (3 runs a photo), facts
 *   included; `facts_ms_median`, the facts alone on top of that decode (EXIF, SHA-256, pixel measures; 5 runs);
 *   `endpoint_ms_median` and `response_bytes_median`, the model server answering that body over
 *   HTTP, one request at a time; `poller_log_bytes_per_photo`, what the real poller handler logs
 *   for a batch of them.
 * - `edge-writer`: the real writer (writeEvents) appending batches of 10 to a user of 2,000 photos,
 *   at the cloud model's dimension: time and log bytes a photo, and bytes written (the process's
 *   write() bytes, from /proc/self/io) a photo.
 * - `edge-endpoint-memory`: the model server's peak resident memory (VmHWM) after serving them all,
 *   four at a time at the end.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeVector, type WriteEventWire, writeEvents } from "../packages/core/src/ingest/index.ts";
import { jsonLogger } from "../packages/core/src/logger.ts";
import { mobilenetV2Int8, resnet50V1 } from "../packages/core/src/models.ts";
import { s3EventMessage } from "../packages/core/src/s3-event.ts";
import { openStore } from "../packages/core/src/store/index.ts";
import { createPollerHandler } from "../packages/functions/src/poller/poller-handler.ts";
import { decodePhoto, smallImage } from "../packages/functions/src/poller/small-image.ts";
import { photoFacts } from "../packages/core/src/facts/photo-facts.ts";
import { startModelServerProcess } from "../packages/local/src/model-server-process.ts";
import { createRequire } from "node:module";

/** sharp is the functions package's dependency, so it resolves from there. */
interface Sharp {
  resize(w: number, h: number, o: object): Sharp;
  jpeg(o: object): Sharp;
  toFile(path: string): Promise<unknown>;
}
const sharp = createRequire(new URL("../packages/functions/package.json", import.meta.url))("sharp") as (input: string) => Sharp;

const SHARED = join(import.meta.dirname, "../../shared");
const PHOTOS = join(SHARED, "data/dev-photos");
const model = mobilenetV2Int8;
const quiet = jsonLogger({}, { write() {} });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const round = (x: number, places = 2) => Math.round(x * 10 ** places) / 10 ** places;
const say = (message: string) => process.stderr.write(`bench --edge: ${message}\n`);

/** Phone-sized copies of the first `count` dev photos: name → bytes, per format. */
async function phonePhotos(dir: string, count: number): Promise<Record<"jpeg" | "heic", Buffer[]>> {
  const files = readFileSync(join(PHOTOS, "groups.csv"), "utf8")
    .trim()
    .split("\n")
    .slice(1, count + 1)
    .map((l) => l.split(",")[0]!);
  const out: Record<"jpeg" | "heic", Buffer[]> = { jpeg: [], heic: [] };
  for (const [i, file] of files.entries()) {
    say(`making 12 MP photos ${i + 1} of ${files.length} (heif-enc takes about 10 s each)`);
    const jpeg = join(dir, `${i}.jpg`);
    await sharp(join(PHOTOS, file)).resize(4032, 3024, { fit: "cover" }).jpeg({ quality: 92 }).toFile(jpeg);
    execFileSync("heif-enc", ["-q", "50", "-t", "320", "-o", join(dir, `${i}.heic`), jpeg], { stdio: "ignore" });
    out.jpeg.push(readFileSync(jpeg));
    out.heic.push(readFileSync(join(dir, `${i}.heic`)));
  }
  return out;
}

function cpuMs<T>(f: () => Promise<T>): Promise<[T, number]> {
  const start = process.cpuUsage();
  return f().then((value) => {
    const used = process.cpuUsage(start);
    return [value, (used.user + used.system) / 1000];
  });
}

/** Bytes this process has passed to write() so far (Linux). */
const writtenBytes = () => Number(/wchar:\s*(\d+)/.exec(readFileSync("/proc/self/io", "utf8"))?.[1] ?? Number.NaN);

async function writer(dir: string): Promise<Record<string, unknown>> {
  const cloud = resnet50V1;
  const d = cloud.dimension;
  const store = openStore({ root: dir, model: cloud, logger: quiet });
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff - 0.5;
  };
  // Clustered like photos: 100 centres, each photo a noisy copy of one.
  const centres = Array.from({ length: 100 }, () => Float32Array.from({ length: d }, random));
  const vector = (i: number) => Float32Array.from(centres[i % 100]!, (x) => x + random() * 0.5);
  const event = (i: number): WriteEventWire => ({
    id: `m${i}`,
    kind: "put",
    userId: "bench",
    key: `users/bench/IMG_${i}.HEIC`,
    imageId: `IMG_${i}`,
    etag: `e${i}`,
    sequencer: (i + 1).toString(16).toUpperCase().padStart(16, "0"),
    model: cloud.id,
    vector: encodeVector(vector(i)),
  });
  const seeded = 2000;
  say(`seeding a user of ${seeded} photos of ${d} dimensions`);
  for (let i = 0; i < seeded; i += 200)
    await writeEvents(
      store,
      Array.from({ length: 200 }, (_, k) => event(i + k)),
      quiet,
    );
  let logBytes = 0;
  const logger = jsonLogger({ component: "writer" }, { write: (line) => (logBytes += Buffer.byteLength(line) + 1) });
  const perPhoto: number[] = [];
  const batches = 20;
  const before = writtenBytes();
  for (let b = 0; b < batches; b++) {
    const events = Array.from({ length: 10 }, (_, k) => event(seeded + b * 10 + k));
    const started = performance.now();
    await writeEvents(store, events, logger);
    perPhoto.push((performance.now() - started) / 10);
  }
  const photos = batches * 10;
  return {
    case: "edge-writer",
    model: cloud.id,
    dimension: d,
    photos,
    batch: 10,
    user_photos: seeded,
    writer_ms_per_photo: round(median(perPhoto)),
    efs_bytes_per_photo: Math.round((writtenBytes() - before) / photos),
    writer_log_bytes_per_photo: Math.round(logBytes / photos),
  };
}

export async function benchEdge(print: (fields: Record<string, unknown>) => void, quick: boolean): Promise<Array<Record<string, unknown>>> {
  const dir = mkdtempSync(join(tmpdir(), "bench-edge-"));
  const lines: Array<Record<string, unknown>> = [];
  const emit = (fields: Record<string, unknown>) => {
    lines.push(fields);
    print(fields);
  };
  const server = await startModelServerProcess({ modelPath: join(SHARED, "models/mobilenetv2-12-int8.onnx"), model, logger: quiet });
  try {
    const photos = await phonePhotos(dir, quick ? 3 : 8);
    const p = model.input.preprocessing;
    const invoke = async (image: { bytes: Uint8Array; contentType: string }) =>
      fetch(`${server.url}/invocations`, { method: "POST", headers: { "Content-Type": image.contentType }, body: image.bytes });
    for (const format of ["jpeg", "heic"] as const) {
      say(`${format}: decoding each photo 3 times, then the endpoint and the poller handler`);
      const cpu: number[] = [];
      const small: Array<{ bytes: Uint8Array; contentType: string }> = [];
      await smallImage(photos[format][0]!, p); // warm-up: libheif's WebAssembly compiles once a process
      for (const bytes of photos[format]) {
        for (let run = 0; run < 3; run++) {
          const [image, ms] = await cpuMs(() => smallImage(bytes, p));
          cpu.push(ms);
          if (run === 0) small.push(image);
        }
      }
      // The facts alone, on top of that decode: EXIF, SHA-256 of the bytes, and the pixel measures
      // on the model's 224×224 input (the same function the poller calls, on the same inputs).
      const factsMs: number[] = [];
      for (const bytes of photos[format]) {
        const photo = await decodePhoto(bytes);
        const { data, info } = await photo.image.resize(p.size, p.size, { fit: "cover" }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
        const input = { ...photo, bytes, small: { pixels: new Uint8Array(data), width: info.width, height: info.height } };
        for (let run = 0; run < 20; run++) photoFacts(input); // a warm poller: the JIT has compiled them
        for (let run = 0; run < 5; run++) factsMs.push((await cpuMs(async () => photoFacts(input)))[1]);
      }
      const endpointMs: number[] = [];
      const responseBytes: number[] = [];
      for (let run = 0; run < 3; run++) {
        for (const image of small) {
          const started = performance.now();
          const res = await invoke(image);
          responseBytes.push((await res.arrayBuffer()).byteLength);
          endpointMs.push(performance.now() - started);
        }
      }
      // The real poller handler over one batch of them, for what it logs a photo.
      let logBytes = 0;
      const store = openStore({ root: join(dir, `store-${format}`), model, logger: quiet });
      const handler = createPollerHandler({
        fetchImage: async (change) => smallImage(photos[format][Number(change.key.split("/").pop()!.split(".")[0])]!, p),
        embed: async (image) => {
          const answer = (await (await invoke(image)).json()) as { model: string; embedding: number[] };
          return { model: answer.model, vector: Float32Array.from(answer.embedding) };
        },
        write: (events) => writeEvents(store, events, quiet),
        model: model.id,
        logger: jsonLogger({ component: "poller" }, { write: (line) => (logBytes += Buffer.byteLength(line) + 1) }),
      });
      const keys = photos[format].map((_, i) => `users/bench/${i}.${format}`);
      const result = await handler({
        Records: keys.map((key, i) => ({
          messageId: `m${i}`,
          body: s3EventMessage({
            kind: "put",
            eventName: "ObjectCreated:Put",
            bucket: "photos",
            key,
            etag: `e${i}`,
            size: 1,
            sequencer: String(i + 1).padStart(16, "0"),
          }),
        })),
      });
      if (result.batchItemFailures.length > 0) throw new Error(`the poller failed ${result.batchItemFailures.length} ${format} photos`);
      emit({
        case: "edge",
        format,
        megapixels: 12,
        photos: photos[format].length,
        model: model.id,
        source_bytes: median(photos[format].map((b) => b.length)),
        endpoint_bytes_median: median(small.map((s) => s.bytes.length)),
        response_bytes_median: median(responseBytes),
        poller_ms_median: round(median(cpu)),
        facts_ms_median: round(median(factsMs)),
        endpoint_ms_median: round(median(endpointMs)),
        poller_log_bytes_per_photo: Math.round(logBytes / keys.length),
      });
    }
    // Four at once, as a busy endpoint instance may be asked, then its peak.
    const last = await smallImage(photos.jpeg[0]!, p);
    for (let i = 0; i < 5; i++) {
      await Promise.all(Array.from({ length: 4 }, () => invoke(last).then((r) => r.arrayBuffer())));
    }
    const hwm = Number(/VmHWM:\s*(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"))?.[1]);
    emit({ case: "edge-endpoint-memory", model: model.id, model_file_bytes: model.source.bytes, peak_rss_mb: Math.round(hwm / 1024) });
    emit(await writer(join(dir, "writer")));
    return lines;
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
