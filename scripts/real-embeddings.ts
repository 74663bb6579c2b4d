/**
 * Real embeddings for `pnpm bench --embeddings <file>`: 2086 MobileNetV2 vectors from the 298 dev
 * photos, each photo as taken plus six edits a phone library holds too (mirrored, cropped to 80%,
 * two 70% corner crops, brighter and more saturated, tilted 12°), embedded by the model server's
 * own preprocessing and model. Unrelated photos meet at cosine 0.4–0.6 and each photo's edits form
 * a burst of near-duplicates, unlike the bench's synthetic vectors: the cold path's screen works
 * much harder on these.
 *
 *   pnpm exec tsx scripts/real-embeddings.ts <out.json> [photoDir]
 *
 * Takes about 40 s on 2 cores; prints progress every 50 photos.
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { mobilenetV2Int8 } from "../packages/core/src/models.ts";
import { createEmbedder } from "../packages/model-server/src/embedder.ts";
import { resolveModelPath } from "../packages/model-server/src/model-file.ts";

/** The few sharp calls used here (sharp is a dependency of the model server, not of the root). */
interface Sharp {
  rotate(angle?: number, options?: { background: string }): Sharp;
  flop(): Sharp;
  extract(region: { left: number; top: number; width: number; height: number }): Sharp;
  modulate(options: { brightness: number; saturation: number }): Sharp;
  jpeg(options: { quality: number }): Sharp;
  toBuffer(): Promise<Buffer>;
  toBuffer(options: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number } }>;
}
const sharp = createRequire(new URL("../packages/model-server/package.json", import.meta.url))("sharp") as (input: Buffer) => Sharp;

const [out, photoDir] = process.argv.slice(2);
if (!out) {
  console.error("usage: tsx scripts/real-embeddings.ts <out.json> [photoDir]");
  process.exit(2);
}
const dir = resolve(photoDir ?? join(import.meta.dirname, "../../shared/data/dev-photos"));
const files = (await readdir(dir)).filter((f) => /\.(jpe?g|png|webp)$/i.test(f)).sort();
const model = mobilenetV2Int8;
const embedder = await createEmbedder({ modelPath: await resolveModelPath(model, { modelPath: process.env.MODEL_PATH }), model });

const edits: Array<(img: Sharp, w: number, h: number) => Sharp> = [
  (img) => img,
  (img) => img.flop(),
  (img, w, h) => img.extract({ left: Math.floor(w * 0.1), top: Math.floor(h * 0.1), width: Math.floor(w * 0.8), height: Math.floor(h * 0.8) }),
  (img, w, h) => img.extract({ left: 0, top: 0, width: Math.floor(w * 0.7), height: Math.floor(h * 0.7) }),
  (img, w, h) => img.extract({ left: Math.floor(w * 0.3), top: Math.floor(h * 0.3), width: Math.floor(w * 0.7), height: Math.floor(h * 0.7) }),
  (img) => img.modulate({ brightness: 0.8, saturation: 1.3 }),
  (img) => img.rotate(12, { background: "#808080" }),
];

const embeddings: Record<string, number[]> = {};
for (const [i, file] of files.entries()) {
  const { data, info } = await sharp(await readFile(join(dir, file)))
    .rotate()
    .toBuffer({ resolveWithObject: true });
  for (const [k, edit] of edits.entries()) {
    const bytes = await edit(sharp(data), info.width, info.height).jpeg({ quality: 85 }).toBuffer();
    embeddings[`${file}#${k}`] = Array.from(await embedder.embed(bytes, "image/jpeg"));
  }
  if ((i + 1) % 50 === 0 || i + 1 === files.length) console.error(`${i + 1}/${files.length} photos`);
}
await embedder.close();
await writeFile(out, JSON.stringify({ model: model.id, dimension: model.dimension, embeddings }));
console.error(`wrote ${Object.keys(embeddings).length} embeddings to ${out}`);
