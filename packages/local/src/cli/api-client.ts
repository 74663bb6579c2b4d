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

export interface StatusBody {
  userId: string;
  stored: number;
  failed: Array<{ key: string; imageId: string; code: string; message: string; at: string }>;
}

export interface ClustersBody {
  userId: string;
  model: string;
  threshold: number;
  imageCount: number;
  singletonCount: number;
  clusters: Array<{
    id: string;
    size: number;
    band: string;
    minSimilarity: number;
    meanSimilarity: number;
    images: Array<{ imageId: string; key: string }>;
    imagesOffset?: number;
  }>;
  nextCursor?: string;
}

/** Every page of the user's clusters, a cluster split between pages joined again; `onPage` sees the progress. */
export async function getAllClusters(url: string, token: string, onPage?: (clustersSoFar: number) => void): Promise<ClustersBody> {
  const first = await getJson<ClustersBody>(url, token);
  const all: ClustersBody = { ...first, clusters: [] };
  delete all.nextCursor;
  const byId = new Map<string, ClustersBody["clusters"][number]>();
  let page: ClustersBody = first;
  for (;;) {
    // By id: a write between two pages can send part of a cluster again (see docs/api.md).
    for (const { imagesOffset, ...cluster } of page.clusters) {
      const known = byId.get(cluster.id);
      if (known) known.images.splice(imagesOffset ?? 0, Infinity, ...cluster.images);
      else {
        byId.set(cluster.id, cluster);
        all.clusters.push(cluster);
      }
    }
    onPage?.(all.clusters.length);
    if (!page.nextCursor) return all;
    const next = new URL(url);
    next.searchParams.set("cursor", page.nextCursor);
    page = await getJson<ClustersBody>(next.toString(), token);
  }
}

export function clustersUrl(apiUrl: string, userId: string, threshold?: number, minSize?: number): string {
  const url = new URL(`/users/${encodeURIComponent(userId)}/clusters`, apiUrl);
  if (threshold !== undefined) url.searchParams.set("threshold", String(threshold));
  if (minSize !== undefined) url.searchParams.set("minSize", String(minSize));
  return url.toString();
}

/** What `DELETE /users/{userId}/images/{imageId}` answered for one photo: its key, or why not. */
export type DeleteOutcome = { imageId: string; key: string } | { imageId: string; error: string };

/** Deletes each photo through the API, one request at a time; a photo that fails does not stop the others. */
export async function deletePhotos(apiUrl: string, userId: string, imageIds: readonly string[], token: string): Promise<DeleteOutcome[]> {
  const outcomes: DeleteOutcome[] = [];
  for (const imageId of imageIds) {
    const url = new URL(`/users/${encodeURIComponent(userId)}/images/${encodeURIComponent(imageId)}`, apiUrl);
    let response: Response;
    try {
      response = await fetch(url, { method: "DELETE", headers: { Authorization: `Bearer ${token}` } });
    } catch (error) {
      throw new Error(`cannot reach ${url.origin} (${(error as Error).message}); is \`pnpm start\` running?`);
    }
    const body = (await response.json().catch(() => ({}))) as { key?: string; error?: { message: string } };
    outcomes.push(
      response.status === 202 && body.key
        ? { imageId, key: body.key }
        : { imageId, error: `API answered ${response.status}: ${body.error?.message ?? response.statusText}` },
    );
  }
  return outcomes;
}
