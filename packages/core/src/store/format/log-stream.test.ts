import { open } from "node:fs/promises";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { put, tempRoot, vectorFor } from "../fixtures/factories.ts";
import { writeTemp } from "../fs-util.ts";
import { parseRecords } from "./log-file.ts";
import { scanLog } from "./log-stream.ts";
import { encodeRecord } from "./record-codec.ts";

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ root, cleanup } = await tempRoot()));
afterEach(() => cleanup());

describe("scanLog", () => {
  it("finds the same records and the same torn tail as a parse of the whole file, in chunks of any size", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 700 }),
        fc.constantFrom("none", "cut", "corrupt"),
        fc.nat(),
        async (records, chunkBytes, damage, where) => {
          // Prepare: records of 8 dimensions (about 100 bytes each), then a tail cut mid-frame or a flipped byte
          const frames = Array.from({ length: records }, (_, i) => encodeRecord(put("u", `img${i}`, i + 1, { vector: vectorFor(i, 8) })).frame);
          let bytes = Buffer.concat(frames);
          if (damage === "cut") bytes = bytes.subarray(0, bytes.length - 1 - (where % 50));
          if (damage === "corrupt") bytes[where % bytes.length] ^= 0x40;
          const path = await writeTemp(join(root, "log"), [bytes]);
          const whole = parseRecords(bytes, 0, 8);

          // Act
          const fh = await open(path, "r");
          const seen: string[] = [];
          const read = await scanLog(fh, 0, bytes.length, 8, ({ parsed }) => void seen.push(...parsed.records.map((r) => r.key)), chunkBytes);
          await fh.close();

          // Assess
          expect(seen).toEqual(whole.records.map((r) => r.key));
          expect(read).toEqual({ validEnd: whole.validEnd, tailBytes: whole.tailBytes });
        },
      ),
      { numRuns: 150 },
    );
  });
});
