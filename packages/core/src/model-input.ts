import type { Preprocessing } from "./models.ts";

/**
 * Where an upright photo of width × height lands in a model's input: resized (bilinear) to
 * `width` × `height` so its shorter side is `resizeShorter`, then the center `size` × `size` crop
 * at (`left`, `top`). The model server and the poller both cut the input with it, so the image the
 * poller sends holds exactly the pixels the server would have cut from the whole photo.
 *
 * An image already `size` × `size` is the model's input as it is: `null`, nothing to resize or cut.
 */
export function modelInputBox(width: number, height: number, p: Preprocessing): { width: number; height: number; left: number; top: number } | null {
  if (width === p.size && height === p.size) return null;
  const scale = p.resizeShorter / Math.min(width, height);
  const w = Math.max(p.size, Math.round(width * scale));
  const h = Math.max(p.size, Math.round(height * scale));
  return { width: w, height: h, left: Math.round((w - p.size) / 2), top: Math.round((h - p.size) / 2) };
}
