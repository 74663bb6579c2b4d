/**
 * `eval`'s review section: the best shot against the anchors people use today, on the dev photos'
 * groups and on bursts made at run time, and the duplicate bounds measured on the groups' pairs.
 *
 * Anchors, each run on the same photos in the same run:
 * - largest file;
 * - Immich's rule: largest file, then most EXIF fields;
 * - most pixels, then largest file.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  colourShift,
  DEFAULT_DUPLICATE_BOUNDS,
  dotF32,
  exifFieldCount,
  gaussian,
  hammingDistance,
  mobilenetV2Int8,
  type PhotoFacts,
  prng,
  type Snapshot,
  suggestBest,
} from "@photo-clusters/core";
import { smallImage } from "@photo-clusters/functions";
import sharp from "sharp";

interface Member {
  file: string;
  facts: PhotoFacts;
  exifFields: number;
}

type Rule = (members: readonly Member[]) => number;

const argmax = (members: readonly Member[], ...keys: Array<(m: Member) => number>): number => {
  let best = 0;
  for (let i = 1; i < members.length; i++) {
    for (const key of keys) {
      const d = key(members[i]!) - key(members[best]!);
      if (d > 0) best = i;
      if (d !== 0) break;
    }
  }
  return best;
};

export const RULES: Record<string, Rule> = {
  "suggested best": (m) => suggestBest(m.map((x) => x.facts))!.index,
  "largest file": (m) => argmax(m, (x) => x.facts.bytes),
  "Immich (largest file, then most EXIF fields)": (m) =>
    argmax(
      m,
      (x) => x.facts.bytes,
      (x) => x.exifFields,
    ),
  "most pixels, then largest file": (m) =>
    argmax(
      m,
      (x) => x.facts.width * x.facts.height,
      (x) => x.facts.bytes,
    ),
};

const jpegQ = (edit: string) => Number(/jpeg q(\d+)/.exec(edit)?.[1] ?? Number.NaN);

/** Whether a copy is worse than its original by its manifest edit: downscaled, cropped, blurred, or saved at a lower JPEG quality. */
export function isDegraded(edit: string, originalEdit: string): boolean {
  return /downscale|crop|blur/.test(edit) || jpegQ(edit) < jpegQ(originalEdit);
}

/** Edits that change what the picture is: its framing or its colours. A copy with none of them is the same picture. */
export function changesPicture(edit: string): boolean {
  return /crop|rotate|brightness|contrast|saturation|hue|gamma/.test(edit);
}

export interface ManifestRow {
  file: string;
  group: string;
  role: string;
  edit: string;
}

export async function readManifest(dir: string): Promise<ManifestRow[] | null> {
  const text = await readFile(join(dir, "manifest.csv"), "utf8").catch(() => null);
  if (text === null) return null;
  const lines = text.trim().split(/\r?\n/);
  const head = lines[0]!.split(",");
  const at = (name: string) => head.indexOf(name);
  if ([at("file"), at("group"), at("role"), at("edit")].some((i) => i < 0)) return null;
  // The edit never holds a comma; later columns (a source's note) may, and are not read.
  return lines.slice(1).map((l) => {
    const cells = l.split(",");
    return { file: cells[at("file")]!, group: cells[at("group")]!, role: cells[at("role")]!, edit: cells[at("edit")] ?? "" };
  });
}

const pct = (k: number, n: number) => (n === 0 ? "–" : `${((100 * k) / n).toFixed(0)}%`);

/** Dev groups with their original: where each rule's best is the original, and where it is a degraded copy. */
export async function bestOnGroups(dir: string, manifest: readonly ManifestRow[], factsOf: (file: string) => PhotoFacts | null): Promise<string> {
  const groups = new Map<string, ManifestRow[]>();
  for (const row of manifest) groups.set(row.group, [...(groups.get(row.group) ?? []), row]);
  const tally = Object.fromEntries(Object.keys(RULES).map((name) => [name, { original: 0, degraded: 0 }]));
  let scored = 0;
  for (const rows of groups.values()) {
    const original = rows.find((r) => r.role === "original");
    if (!original || rows.length < 2) continue;
    const members: Array<Member & { row: ManifestRow }> = [];
    for (const row of rows) {
      const facts = factsOf(row.file);
      if (!facts) continue;
      const exif = (await sharp(join(dir, row.file)).metadata()).exif;
      members.push({ file: row.file, facts, exifFields: exifFieldCount(exif), row });
    }
    if (members.length < 2 || !members.some((m) => m.row === original)) continue;
    scored++;
    for (const [name, rule] of Object.entries(RULES)) {
      const pick = members[rule(members)]!.row;
      if (pick === original) tally[name]!.original++;
      else if (isDegraded(pick.edit, original.edit)) tally[name]!.degraded++;
    }
  }
  const lines = Object.entries(tally).map(([name, t]) => `  ${name.padEnd(46)}${pct(t.original, scored).padStart(9)}${pct(t.degraded, scored).padStart(16)}`);
  return `best shot on the dev groups: ${scored} groups with their original stored\n  ${"rule".padEnd(46)}${"original".padStart(9)}${"degraded copy".padStart(16)}\n${lines.join("\n")}\n`;
}

const FRAMES = ["clean", "motion blur", "defocus", "under-exposed", "over-exposed", "sensor noise"] as const;

/**
 * How flawed a burst's frames are. "strong" is what the best-shot rule's thresholds were chosen
 * looking at; "mild" was not looked at when choosing them.
 */
export const SEVERITIES = {
  strong: { shake: 0.012, defocus: 0.003, under: [0.5, -15], over: 1.8, noise: 14 },
  mild: { shake: 0.008, defocus: 0.002, under: [0.65, -10], over: 1.5, noise: 8 },
} as const;
export type Severity = keyof typeof SEVERITIES;

/** Six frames of one scene, the same size and encoder (JPEG quality 90): one clean, five flawed. */
export async function burstOf(photo: Buffer, severity: Severity = "strong"): Promise<Record<(typeof FRAMES)[number], Buffer>> {
  const s = SEVERITIES[severity];
  const { data, info } = await sharp(photo).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const { width: w, height: h } = info;
  const raw = (pixels: Buffer) => sharp(pixels, { raw: { width: w, height: h, channels: 3 } });
  const encode = (image: sharp.Sharp) => image.jpeg({ quality: 90 }).toBuffer();
  const random = prng(7);
  const map = (f: (v: number) => number) => Buffer.from(data.map((v) => Math.max(0, Math.min(255, Math.round(f(v))))));
  const length = Math.max(3, Math.round(w * s.shake) | 1);
  const line = { width: length, height: 3, kernel: [...Array(length).fill(0), ...Array(length).fill(1), ...Array(length).fill(0)], scale: length };
  return {
    clean: await encode(raw(data)),
    "motion blur": await encode(raw(data).convolve(line)),
    defocus: await encode(raw(data).blur(Math.max(0.5, w * s.defocus))),
    // Under: the light scaled down and the black level lifted off the shadows; over: scaled up.
    "under-exposed": await encode(raw(map((v) => s.under[0] * v + s.under[1]))),
    "over-exposed": await encode(raw(map((v) => s.over * v))),
    "sensor noise": await encode(raw(map((v) => v + s.noise * gaussian(random)))),
  };
}

/** Bursts made from `photos` (never written to disk): where each rule's best is the clean frame, and what it picked instead. */
export async function bestOnBursts(photos: readonly string[], severity: Severity, onProgress?: (done: number) => void): Promise<string> {
  const p = mobilenetV2Int8.input.preprocessing;
  const tally = Object.fromEntries(Object.keys(RULES).map((name) => [name, new Map<string, number>()]));
  for (const [i, path] of photos.entries()) {
    const frames = await burstOf(await readFile(path), severity);
    const members: Member[] = [];
    for (const [name, bytes] of Object.entries(frames)) {
      const { facts } = await smallImage(bytes, p);
      if (!facts) throw new Error(`no facts for the ${name} frame of ${path}`);
      members.push({ file: name, facts, exifFields: 0 });
    }
    for (const [name, rule] of Object.entries(RULES)) {
      const picked = members[rule(members)]!.file;
      tally[name]!.set(picked, (tally[name]!.get(picked) ?? 0) + 1);
    }
    onProgress?.(i + 1);
  }
  const lines = Object.entries(tally).map(([name, picks]) => {
    const others = [...picks].filter(([f]) => f !== "clean").sort((x, y) => y[1] - x[1]);
    return `  ${name.padEnd(46)}${pct(picks.get("clean") ?? 0, photos.length).padStart(6)}   ${others.map(([f, k]) => `${f} ${k}`).join(", ") || "–"}`;
  });
  const { shake, defocus, under, over, noise } = SEVERITIES[severity];
  const how = `shake ${shake * 100}% of the width, defocus σ ${defocus * 100}% of it, light ×${under[0]} ${under[1]} and ×${over}, noise σ ${noise}`;
  return `best shot on ${severity} bursts (${how}): ${photos.length} bursts of ${FRAMES.length} frames made from the originals (${FRAMES.join(", ")}), the same size, JPEG quality 90\n  ${"rule".padEnd(46)}${"clean".padStart(6)}   picked instead\n${lines.join("\n")}\n`;
}

/**
 * Pairs of one group: how many the duplicate test calls the same picture at each bound, among pairs
 * whose edits keep the picture (recompressed, resized, sharpened or blurred copies) and pairs that
 * change it (crops, rotations, colour edits, other frames). The API's bounds are marked `*`.
 */
export function duplicateBounds(snapshot: Snapshot, manifest: readonly ManifestRow[], fileOf: (imageId: string) => string | undefined): string {
  const byFile = new Map(manifest.map((r) => [r.file, r]));
  const rows = snapshot.images.flatMap((img, row) => {
    const m = byFile.get(fileOf(img.imageId) ?? "");
    const facts = snapshot.facts?.(row) ?? null;
    return m && facts && m.role !== "singleton" ? [{ row, m, facts }] : [];
  });
  const pairs: Array<{ same: boolean; hash: number; cosine: number; colour: number }> = [];
  const d = snapshot.dimension;
  for (let x = 0; x < rows.length; x++)
    for (let y = x + 1; y < rows.length; y++) {
      const a = rows[x]!;
      const b = rows[y]!;
      if (a.m.group !== b.m.group) continue;
      pairs.push({
        same: !a.m.role.startsWith("hardpair") && !b.m.role.startsWith("hardpair") && !changesPicture(a.m.edit) && !changesPicture(b.m.edit),
        hash: hammingDistance(a.facts.phash, b.facts.phash),
        cosine: dotF32(snapshot.vectors, a.row * d, snapshot.vectors, b.row * d, d),
        colour: colourShift(a.facts, b.facts),
      });
    }
  const sameTotal = pairs.filter((p) => p.same).length;
  const lines: string[] = [];
  const chosen = DEFAULT_DUPLICATE_BOUNDS;
  for (const hash of [4, 8])
    for (const cosine of [0.95, 0.97])
      for (const colour of [0.005, 0.01, 0.02, 1]) {
        const flagged = pairs.filter((p) => p.hash <= hash && p.cosine >= cosine && p.colour <= colour);
        const same = flagged.filter((p) => p.same).length;
        const mark = hash === chosen.maxHashDistance && cosine === chosen.minCosine && colour === chosen.maxColourShift ? "*" : " ";
        lines.push(
          `${mark} ≤ ${String(hash).padEnd(3)} ≥ ${cosine.toFixed(2)}   ${colour === 1 ? "any  " : colour.toFixed(3)}   ${String(same).padStart(4)} of ${sameTotal}   ${String(flagged.length - same).padStart(4)} of ${pairs.length - sameTotal}   ${flagged.length ? (same / flagged.length).toFixed(3) : "–"}`,
        );
      }
  return `duplicates on the dev groups' pairs: ${sameTotal} pairs of the same picture (recompressed, resized, sharpened or blurred copies), ${pairs.length - sameTotal} of changed pictures (crops, rotations, colour edits, other frames); identical bytes are always duplicates\n  hash  cosine   colour   same called same   changed called same   precision\n${lines.join("\n")}\n`;
}
