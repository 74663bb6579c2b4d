/**
 * Child process of bench-serve.ts: the memory one cached user takes in an API process that does
 * nothing else. Usage: node --expose-gc --import tsx bench-memory.ts <root> <userId>; prints JSON.
 */
import { openStore, resnet50V1, type UserView } from "@photo-clusters/core";
import { cachedReader } from "../src/api/view-cache.ts";

const [root, userId] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc");
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};
const used = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};
// Everything a request needs loaded and warm first, on another reader, so only the user's view is counted.
const read = cachedReader(openStore({ root, model: resnet50V1, logger: { warn() {}, error() {}, debug() {} } }));
await cachedReader(openStore({ root, model: resnet50V1 }))(userId);
await settle();
const before = used();
const view: UserView = await read(userId);
await settle();
process.stdout.write(
  `${JSON.stringify({ bytes: used() - before, imageCount: view.imageCount, edges: view.graph?.edges.a.length ?? 0, viewBytes: view.bytes })}\n`,
);
