/** Calls the clusters API (local or deployed) and turns its JSON errors into readable ones. */
export async function getJson<T>(url: string, token: string): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  } catch (error) {
    throw new Error(`cannot reach ${new URL(url).origin} (${(error as Error).message}); is \`pnpm start\` running?`);
  }
  const body = (await response.json().catch(() => ({}))) as T & { error?: { code: string; message: string } };
  if (!response.ok) throw new Error(`API answered ${response.status}: ${body.error?.message ?? response.statusText}`);
  return body;
}

export interface ClustersBody {
  userId: string;
  model: string;
  threshold: number;
  imageCount: number;
  singletonCount: number;
  clusters: Array<{ id: string; size: number; band: string; minSimilarity: number; meanSimilarity: number; images: Array<{ imageId: string; key: string }> }>;
}

export function clustersUrl(apiUrl: string, userId: string, threshold?: number, minSize?: number): string {
  const url = new URL(`/users/${encodeURIComponent(userId)}/clusters`, apiUrl);
  if (threshold !== undefined) url.searchParams.set("threshold", String(threshold));
  if (minSize !== undefined) url.searchParams.set("minSize", String(minSize));
  return url.toString();
}
