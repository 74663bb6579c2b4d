import type { Snapshot } from "./store/index.ts";

type Read = (userId: string) => Promise<Snapshot>;

/**
 * After the configured model changes, a user's photos are re-embedded in the background. Until the
 * new model's set covers every photo the previous model knew, the previous model keeps answering;
 * then the new one does. An answer always comes from one model's snapshot, never a mix.
 */
export async function servingSnapshot(userId: string, current: Read, previous?: Read): Promise<Snapshot> {
  if (!previous) return current(userId);
  const [now, before] = await Promise.all([current(userId), previous(userId)]);
  const have = new Set(now.images.map((i) => i.key));
  return before.images.every((i) => have.has(i.key)) ? now : before;
}
