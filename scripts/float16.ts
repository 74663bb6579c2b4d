/**
 * Whether the store should keep vectors as float16 (issue 10, item 5): F1 on the dev photos with each
 * stored vector rounded to float16 (what a float16 log would give back) against float32, and what
 * a writer's first read in a new container would cost either way at 50,000 × 2048.
 *
 *   pnpm exec tsx scripts/float16.ts [photoDir]
 *
 * Clusters come from clusterVectors at the model's calibration, which gives the same clusters as the
 * API's graph path (cluster.ts); scores are eval's pairwise precision, recall and F1 (evaluate.ts).
 */
import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pairwiseScores, parseGroupsCsv } from "../packages/core/src/evaluate.ts";
import { mobilenetV2Int8 } from "../packages/core/src/models.ts";
import { clusterOptionsFor, clusterVectors } from "../packages/core/src/similarity/index.ts";
import { normalizeRows } from "../packages/core/src/similarity/normalize.ts";
import { createEmbedder } from "../packages/model-server/src/embedder.ts";
import { resolveModelPath } from "../packages/model-server/src/model-file.ts";

const dir = resolve(process.argv[2] ?? join(import.meta.dirname, "../../shared/data/dev-photos"));
const groups = parseGroupsCsv(await readFile(join(dir, "groups.csv"), "utf8"));
const files = (await readdir(dir)).filter((f) => /\.(jpe?g|png|webp)$/i.test(f)).sort();
const model = mobilenetV2Int8;
const d = model.dimension;
const embedder = await createEmbedder({ modelPath: await resolveModelPath(model, { modelPath: process.env.MODEL_PATH }), model });
const f32 = new Float32Array(files.length * d);
for (const [i, file] of files.entries()) f32.set(await embedder.embed(await readFile(join(dir, file)), "image/jpeg"), i * d);
await embedder.close();
normalizeRows(f32, files.length, d);

/** float32 → nearest float16 (ties to even) → float32: what a float16 store would read back. */
const scratch = new Float32Array(1);
const bits = new Uint32Array(scratch.buffer);
function toHalf(x: number): number {
  scratch[0] = x;
  const b = bits[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = (mant | 0x800000) >>> (1 - e);
    const rounded = (m + 0xfff + ((m >>> 13) & 1)) >>> 13;
    return sign | rounded;
  }
  const rounded = ((e << 10) | (mant >>> 13)) + ((mant & 0x1fff) > 0x1000 || ((mant & 0x1fff) === 0x1000 && (mant >>> 13) & 1) ? 1 : 0);
  return sign | rounded;
}
const HALF_TO_FLOAT = new Float32Array(65536);
for (let h = 0; h < 65536; h++) {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  HALF_TO_FLOAT[h] = exp === 0 ? sign * mant * 2 ** -24 : exp === 0x1f ? (mant ? NaN : sign * Infinity) : sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
const f16 = Float32Array.from(f32, (x) => HALF_TO_FLOAT[toHalf(x)]);
let worst = 0;
for (let i = 0; i < f32.length; i++) worst = Math.max(worst, Math.abs(f32[i] - f16[i]));

console.log(`${files.length} photos, ${model.id} (${d}-d); largest change of a component when rounded to float16: ${worst.toExponential(2)}\n`);
console.log("threshold  f1 float32  f1 float16  clusters 32/16");
for (const threshold of [0.8, 0.85, 0.9]) {
  const opts = clusterOptionsFor(model, { threshold, minSize: 2 });
  const score = (v: Float32Array) => {
    const clusters = clusterVectors(v, files.length, d, opts);
    return {
      f1: pairwiseScores(
        clusters.map((c) => c.members.map((i) => files[i])),
        groups,
      ).f1,
      clusters: clusters.length,
    };
  };
  const [a, b] = [score(f32), score(f16)];
  console.log(`${threshold.toFixed(2).padEnd(11)}${a.f1.toFixed(4).padEnd(12)}${b.f1.toFixed(4).padEnd(12)}${a.clusters}/${b.clusters}`);
}

// A writer's first read: the log's vectors into the float32 rows it scores with (n = 50,000, d = 2048).
const n = 50_000;
const D = 2048;
const halves = new Uint16Array(n * D).map((_, i) => toHalf(Math.sin(i) * 0.02));
const floats = Float32Array.from(halves, (h) => HALF_TO_FLOAT[h]);
const out = new Float32Array(n * D);
const time = (f: () => void) => {
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    f();
    runs.push(performance.now() - t);
  }
  return runs.sort((x, y) => x - y)[2];
};
const copyMs = time(() => out.set(floats));
const decodeMs = time(() => {
  for (let i = 0; i < halves.length; i++) out[i] = HALF_TO_FLOAT[halves[i]];
});
console.log(
  `\nfirst read at n = ${n}, d = ${D}: float32 ${(floats.byteLength / 2 ** 20).toFixed(0)} MiB copied in ${copyMs.toFixed(0)} ms; float16 ${(halves.byteLength / 2 ** 20).toFixed(0)} MiB decoded in ${decodeMs.toFixed(0)} ms (median of 5)`,
);
