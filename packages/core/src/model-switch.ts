import type { UserView } from "./store/index.ts";

type Read = (userId: string, need?: "vectors") => Promise<UserView>;

/**
 * After the configured model changes, a user's photos are re-embedded in the background. Until the
 * new model's set covers every photo the previous model knew, the previous model keeps answering;
 * then the new one does. An answer always comes from one model's view, never a mix.
 */
export async function servingView(userId: string, current: Read, previous?: Read, need?: "vectors"): Promise<UserView> {
  if (!previous) return current(userId, need);
  const [now, before] = await Promise.all([current(userId, need), previous(userId, need)]);
  const have = new Set(liveKeys(now));
  return liveKeys(before).every((key) => have.has(key)) ? now : before;
}

function liveKeys(view: UserView): string[] {
  const keys: string[] = [];
  for (let row = 0; row < view.rows; row++) if (view.live(row)) keys.push(view.key(row));
  return keys;
}
