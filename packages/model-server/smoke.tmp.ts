import { readFileSync } from "node:fs";
import { mobilenetV2Int8 } from "@photo-clusters/core/models";
import { startModelServer } from "./src/server.ts";
import { silentLogger } from "./src/logger.ts";
const s = await startModelServer({ model: mobilenetV2Int8, port: 0, logger: silentLogger });
console.log(s.url, (await fetch(s.url + "/ping")).status);
await s.ready;
console.log((await fetch(s.url + "/ping")).status);
let r = await fetch(s.url + "/invocations", { method: "POST", body: readFileSync("/work/shared/data/dev-photos/00d7a649.jpg"), headers: { "content-type": "image/jpeg" } });
const j = await r.json(); console.log(r.status, j.model, j.dimension, j.embedding.length);
for (const body of [new Uint8Array(0), Buffer.from("hello this is text"), readFileSync("/work/shared/data/dev-photos/00d7a649.jpg").subarray(0, 20000), new Uint8Array(30 * 1024 * 1024)]) {
  try {
    r = await fetch(s.url + "/endpoints/x/invocations", { method: "POST", body, headers: { "content-type": "image/jpeg" } });
    console.log(r.status, r.headers.get("x-amzn-errortype"), await r.text());
  } catch (e) { console.log("fetch error", e.cause ?? e); }
}
// chunked 30MB via stream
const stream = new ReadableStream({ start(c) { for (let i = 0; i < 30; i++) c.enqueue(new Uint8Array(1024 * 1024)); c.close(); } });
try {
  r = await fetch(s.url + "/invocations", { method: "POST", body: stream, duplex: "half", headers: { "content-type": "image/png" } } as any);
  console.log("chunked", r.status, await r.text());
} catch (e) { console.log("fetch error chunked", e.cause ?? e); }
await s.close();
