/**
 * Local-only routes next to the API: the page at `/`, a dev token for any user at
 * `/local/token`, the photos of the local bucket at `/local/images/:userId/:file`, and how many
 * messages the local queue still holds at `/local/queue` (the page waits on it after an upload).
 * They answer only for a loopback Host, so a web page elsewhere cannot reach them by DNS rebinding.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Hono, type Context } from "hono";
import { isValidId, parseObjectKey, type ObjectKey } from "@photo-clusters/core";
import { decodePhoto } from "@photo-clusters/functions";

export type LocalObject = Uint8Array | { bytes: Uint8Array; contentType?: string };

export interface LocalRoutesDeps {
  issueDevToken(userId: string, ttlSeconds?: number): Promise<string>;
  /** Where the page posts uploads (the local S3), allowed by its Content-Security-Policy. */
  uploadOrigin?: string;
  /** The local bucket's object at `key`, or undefined when there is none. */
  getObject(key: string): Promise<LocalObject | undefined> | LocalObject | undefined;
  /** Messages in the local queue: waiting, delayed or being handled. */
  queueDepth?(): Promise<number>;
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);
const TOKEN_TTL_SECONDS = 3600;
// By extension, never the stored Content-Type: an upload must not become a page on this origin.
const IMAGE_TYPES: Record<string, string> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  gif: "image/gif",
  avif: "image/avif",
};
/** Browsers show no HEIC: the page gets such photos as a JPEG of this shorter side, decoded as the poller decodes them. */
const HEIC_PREVIEW_SIDE = 512;

const inlineHash = (html: string, tag: "script" | "style") => {
  const body = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(html)?.[1] ?? "";
  return `'sha256-${createHash("sha256").update(body).digest("base64")}'`;
};

function loadPage(uploadOrigin?: string) {
  const html = readFileSync(new URL("./index.html", import.meta.url), "utf8");
  const csp = [
    "default-src 'none'",
    `script-src ${inlineHash(html, "script")}`,
    `style-src ${inlineHash(html, "style")}`,
    "img-src 'self'",
    `connect-src 'self'${uploadOrigin ? ` ${new URL(uploadOrigin).origin}` : ""}`,
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; ");
  return { html, csp };
}

const error = (c: Context, status: 400 | 403 | 404, code: string, message: string) =>
  c.json({ error: { code, message } }, status, { "Cache-Control": "no-store" });

export function createLocalRoutes(deps: LocalRoutesDeps): Hono {
  const page = loadPage(deps.uploadOrigin);
  const app = new Hono();
  const isLoopback = (c: Context) => LOOPBACK.has(new URL(c.req.url).hostname);

  app.get("/", (c) => {
    if (!isLoopback(c)) return error(c, 403, "forbidden", "the local page answers only on localhost");
    return c.html(page.html, 200, {
      "Content-Security-Policy": page.csp,
      "X-Content-Type-Options": "nosniff",
      "Cache-Control": "no-store",
      "Referrer-Policy": "no-referrer",
    });
  });

  app.get("/local/token", async (c) => {
    if (!isLoopback(c)) return error(c, 403, "forbidden", "dev tokens are issued only on localhost");
    const user = c.req.query("user");
    if (user === undefined || !isValidId(user)) return error(c, 400, "invalid_parameter", "user must be 1 to 128 letters, digits, '_' or '-'");
    const token = await deps.issueDevToken(user, TOKEN_TTL_SECONDS);
    return c.json({ token, expiresIn: TOKEN_TTL_SECONDS }, 200, { "Cache-Control": "no-store" });
  });

  app.get("/local/queue", async (c) => {
    if (!isLoopback(c)) return error(c, 403, "forbidden", "the local queue answers only on localhost");
    if (!deps.queueDepth) return error(c, 404, "not_found", "no local queue");
    return c.json({ messages: await deps.queueDepth() }, 200, { "Cache-Control": "no-store" });
  });

  app.get("/local/images/:userId/:name{.+}", async (c) => {
    if (!isLoopback(c)) return error(c, 403, "forbidden", "local images are served only on localhost");
    let photo: ObjectKey;
    try {
      photo = parseObjectKey(`users/${c.req.param("userId")}/${c.req.param("name")}`);
    } catch (e) {
      return error(c, 400, "invalid_parameter", `expected /local/images/<userId>/<name>.<ext>, each segment percent-encoded: ${(e as Error).message}`);
    }
    const object = await deps.getObject(photo.key);
    if (object === undefined) return error(c, 404, "not_found", "no such image");
    let bytes = object instanceof Uint8Array ? object : object.bytes;
    let type = IMAGE_TYPES[photo.ext] ?? "application/octet-stream";
    if (photo.ext === "heic" || photo.ext === "heif") {
      try {
        const { image } = await decodePhoto(bytes);
        bytes = await image.resize(HEIC_PREVIEW_SIDE, HEIC_PREVIEW_SIDE, { fit: "outside", withoutEnlargement: true }).jpeg({ quality: 85 }).toBuffer();
        type = "image/jpeg";
      } catch (e) {
        const code = (e as { code?: string }).code;
        return error(c, 400, "invalid_image", `the photo cannot be shown${code ? ` (${code})` : ""}`);
      }
    }
    return c.body(new Uint8Array(bytes), 200, {
      "Content-Type": type,
      "Content-Security-Policy": "default-src 'none'; sandbox",
      "X-Content-Type-Options": "nosniff",
      // Other sites may not embed a local photo (the Host check alone lets <img> tags through).
      "Cross-Origin-Resource-Policy": "same-origin",
      "Cache-Control": "private, max-age=60",
    });
  });

  return app;
}
