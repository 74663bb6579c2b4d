/**
 * Reads a request body into memory with a byte limit enforced while streaming: a declared
 * Content-Length over the limit is refused before any byte is read, and a chunked body is
 * refused as soon as it crosses the limit. Nothing above the limit is ever buffered.
 */
import type { IncomingMessage } from "node:http";
import { ImageTooLargeError } from "./errors.ts";

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > maxBytes) {
      reject(new ImageTooLargeError(`the body is ${mb(declared)}; the limit is ${mb(maxBytes)}`));
      return;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) {
        cleanup();
        chunks.length = 0;
        reject(new ImageTooLargeError(`the body is over the limit of ${mb(maxBytes)}`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, total));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
}
