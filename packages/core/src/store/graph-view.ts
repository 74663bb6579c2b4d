/**
 * The API's read: a user's rows and neighbour graph from the refs and graph files alone, never the
 * vectors, in O(photos × (about 15 bytes + key and id) + edges × 12) of reading and of memory.
 *
 * Lock-free like every read: refs first, then the graph. A writer appends a batch's graph frame
 * before its log records and its refs frame after them, so the graph read second covers every row
 * the refs gave; a frame still being written fails its length or checksum and waits for the next
 * read. Given the view it returned before, `readView` reads only the bytes each file grew by and
 * updates that view; a file replaced (compaction: new inode) or shorter than what was read (a writer
 * cut a tail after a crash) means a full read. Files with no refs (format 1, before the next write
 * upgrades them) and a graph that lost frames in a crash are read whole instead, vectors included,
 * as `read` does (see snapshot.ts).
 */
import { stat } from "node:fs/promises";
import { CorruptStoreError } from "../errors.ts";
import { EdgeList } from "./edge-list.ts";
import { decodeGraphHeader, decodeRefsHeader } from "./file-header.ts";
import { readPathFrom } from "./fs-util.ts";
import { readGraphFrames } from "./graph-file.ts";
import type { NeighbourGraph } from "./neighbour-graph.ts";
import { readSnapshot } from "./read-snapshot.ts";
import { ENTRY, entryIsPut, readRefsFrame } from "./refs-file.ts";
import { viewOfSnapshot } from "./snapshot.ts";
import type { UserView } from "./types.ts";
import { assertModel, type FilesContext } from "./user-files.ts";

const ATTEMPTS = 3;

export async function readView(ctx: FilesContext, userId: string, previous?: UserView): Promise<UserView> {
  if (previous instanceof GraphView && previous.userId === userId && previous.model === ctx.model.id && (await previous.refresh(ctx))) return previous;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const refs = await readPathFrom(ctx.paths.refs, 0);
    if (!refs) break; // format 1, or no photos yet
    const head = decodeRefsHeader(refs.buf);
    if (head.status === "corrupt") throw new CorruptStoreError(`${ctx.paths.refs}: unreadable header (${head.reason})`);
    if (head.status === "truncated") break;
    assertModel(head.header, ctx.model, ctx.paths.refs);
    const graph = await readPathFrom(ctx.paths.graph, 0);
    const graphHead = graph && decodeGraphHeader(graph.buf);
    const floor = Math.fround(ctx.model.defaults.graphFloor);
    if (graphHead?.status !== "ok" || graphHead.header.logFileId !== head.header.fileId || graphHead.header.floor !== floor) {
      continue; // a compaction renamed the files between our two reads: read again
    }
    const view = new GraphView(userId, head.header.modelId, head.header.dimension, floor, refs.ino, graph!.ino);
    view.take(refs.buf, head.header.length, graph!.buf, graphHead.header.length);
    if (view.graph) return view;
    break; // graph frames lost in a crash: the full read completes them from the vectors
  }
  const sig = await signature(ctx); // taken before reading, so a write during the read makes the next call read again
  if (previous && fullReads.get(previous) === sig && previous.userId === userId && previous.model === ctx.model.id) return previous;
  const view = viewOfSnapshot(await readSnapshot(ctx, userId));
  fullReads.set(view, sig);
  return view;
}

/** What a full read depends on: the three files' inodes and sizes. */
async function signature(ctx: FilesContext): Promise<string> {
  const { log, refs, graph } = ctx.paths;
  const parts = await Promise.all([log, refs, graph].map((p) => stat(p).then((s) => `${s.ino}:${s.size}`, () => "-")));
  return parts.join("|");
}

/** Full reads' views, with the files' signature each was read at. */
const fullReads = new WeakMap<UserView, string>();

class GraphView implements UserView {
  readonly vectors = null;
  rows = 0;
  imageCount = 0;
  private alive = new Uint8Array(0);
  private crcs = new Uint32Array(0);
  /** Each row's key bytes start at textAt[row] in `text`; its image id follows them. */
  private textAt = new Uint32Array(0);
  private keyLen = new Uint16Array(0);
  private idLen = new Uint16Array(0);
  private text = Buffer.alloc(0);
  private textUsed = 0;
  private edges = new EdgeList(0);
  private graphCovered = 0;
  /** How far each file has been read (just past its last frame taken). */
  private refsEnd = 0;
  private graphEnd = 0;

  constructor(
    readonly userId: string, readonly model: string, readonly dimension: number, private readonly floor: number,
    private readonly refsIno: number, private readonly graphIno: number,
  ) {}

  get graph(): NeighbourGraph | null {
    if (this.graphCovered < this.rows) return null;
    const { a, b, s, length } = this.edges;
    return { floor: this.floor, edges: { a: a.subarray(0, length), b: b.subarray(0, length), s: s.subarray(0, length) } };
  }

  get bytes(): number {
    const arrays = [this.alive, this.crcs, this.textAt, this.keyLen, this.idLen, this.edges.a, this.edges.b, this.edges.s, this.text];
    return arrays.reduce((n, a) => n + a.byteLength, 0);
  }

  live(row: number): boolean {
    return this.alive[row] === 1;
  }

  key(row: number): string {
    return this.text.toString("utf8", this.textAt[row], this.textAt[row] + this.keyLen[row]);
  }

  imageId(row: number): string {
    const at = this.textAt[row] + this.keyLen[row];
    return this.text.toString("utf8", at, at + this.idLen[row]);
  }

  /** UTF-8 byte order (that is, code point order) of two rows' image ids, without making strings. */
  compareIds(x: number, y: number): number {
    const { text } = this;
    const ax = this.textAt[x] + this.keyLen[x];
    const ay = this.textAt[y] + this.keyLen[y];
    const lx = this.idLen[x];
    const ly = this.idLen[y];
    const common = Math.min(lx, ly);
    for (let k = 0; k < common; k++) {
      const diff = text[ax + k] - text[ay + k];
      if (diff !== 0) return diff;
    }
    return lx - ly;
  }

  /** Compares bytes in place: no string is made for the rows it passes over. */
  rowOf(imageId: string): number {
    const want = Buffer.from(imageId, "utf8");
    for (let row = this.rows - 1; row >= 0; row--) {
      if (this.alive[row] !== 1 || this.idLen[row] !== want.length) continue;
      const at = this.textAt[row] + this.keyLen[row];
      if (this.text.compare(want, 0, want.length, at, at + want.length) === 0) return row;
    }
    return -1;
  }

  /** Takes the frames of whole files, from just past their headers. */
  take(refs: Buffer, refsFrom: number, graph: Buffer, graphFrom: number): void {
    this.refsEnd = this.takeRefs(refs, refsFrom);
    this.graphEnd = this.takeGraph(graph, graphFrom);
  }

  /** Reads what the files grew by; false when they were replaced or cut, or the graph fell behind. */
  async refresh(ctx: FilesContext): Promise<boolean> {
    const { refs, graph } = ctx.paths;
    const [r, g] = await Promise.all([refs, graph].map((p) => stat(p).catch(() => null)));
    if (!r || !g || r.ino !== this.refsIno || g.ino !== this.graphIno || r.size < this.refsEnd || g.size < this.graphEnd) return false;
    if (r.size > this.refsEnd || g.size > this.graphEnd) {
      const [rt, gt] = [await readPathFrom(refs, this.refsEnd), await readPathFrom(graph, this.graphEnd)];
      if (!rt || !gt || rt.ino !== this.refsIno || gt.ino !== this.graphIno) return false;
      // The buffers start where the last read stopped.
      this.refsEnd += this.takeRefs(rt.buf, 0);
      this.graphEnd += this.takeGraph(gt.buf, 0);
    }
    return this.graphCovered >= this.rows;
  }

  /** Appends the rows of every complete frame that continues this view; returns the offset after them. */
  private takeRefs(buf: Buffer, offset: number): number {
    const frames: Array<{ count: number; at: number }> = [];
    let rows = this.rows;
    let textBytes = 0;
    for (;;) {
      const frame = readRefsFrame(buf, offset);
      if (frame.status !== "ok" || frame.from !== rows) break;
      frames.push(frame);
      rows += frame.count;
      textBytes += frame.idBytes;
      offset = frame.next;
    }
    this.reserve(rows, this.textUsed + textBytes);
    const { alive, text } = this;
    const firstNew = this.rows;
    let deaths = false;
    for (const { count, at } of frames) {
      for (let i = 0, p = at; i < count; i++) {
        const row = this.rows++;
        const keyLen = buf.readUInt16LE(p + ENTRY.keyLen);
        const idLen = buf.readUInt16LE(p + ENTRY.idLen);
        const supersedes = buf.readInt32LE(p + ENTRY.supersedes);
        if (supersedes >= 0 && alive[supersedes] === 1) {
          alive[supersedes] = 0;
          this.imageCount--;
          if (supersedes < firstNew) deaths = true;
        }
        const put = entryIsPut(buf, p);
        alive[row] = put ? 1 : 0;
        if (put) this.imageCount++;
        this.crcs[row] = buf.readUInt32LE(p + ENTRY.crc);
        this.keyLen[row] = keyLen;
        this.idLen[row] = idLen;
        this.textAt[row] = this.textUsed;
        // Key and id: a few dozen bytes, cheaper copied in a loop than by a call each.
        const src = p + ENTRY.fixed;
        const length = keyLen + idLen;
        for (let k = 0; k < length; k++) text[this.textUsed + k] = buf[src + k];
        this.textUsed += length;
        p += ENTRY.fixed + length + buf.readUInt16LE(p + ENTRY.etagLen);
      }
    }
    // Edges read before to rows replaced now; edges of rows newer than that are filtered as they come.
    if (deaths) this.edges.retain((a, b) => alive[a] === 1 && alive[b] === 1);
    return offset;
  }

  /** Edges of every frame the rows read so far cover, between rows still live; returns the offset after them. */
  private takeGraph(buf: Buffer, offset: number): number {
    const first = this.edges.a.length === 0;
    if (first) this.edges = new EdgeList(Math.ceil((buf.length - offset) / 12));
    const from = this.edges.length;
    const got = readGraphFrames(buf, offset, this.graphCovered, this.crcs.subarray(0, this.rows), (b, at, count) => this.edges.pushRaw(b, at, count));
    this.graphCovered = got.covered;
    if (this.imageCount < this.rows) {
      const { alive } = this;
      this.edges.retain((a, b) => alive[a] === 1 && alive[b] === 1, from);
    }
    if (first) this.edges.shrink(); // the estimate counted the frames' headers
    return got.usedEnd;
  }

  /** Room for `rows` rows and `textBytes` of text: exact on a first read, with headroom when growing. */
  private reserve(rows: number, textBytes: number): void {
    const first = this.alive.length === 0;
    const size = (need: number, have: number) => (first ? need : Math.max(need, Math.ceil(have * 1.5)));
    if (rows > this.alive.length) {
      const capacity = size(rows, this.alive.length);
      const grow = <T extends Uint8Array | Uint16Array | Uint32Array>(arr: T): T => {
        const next = new (arr.constructor as new (n: number) => T)(capacity);
        next.set(arr);
        return next;
      };
      this.alive = grow(this.alive);
      this.crcs = grow(this.crcs);
      this.textAt = grow(this.textAt);
      this.keyLen = grow(this.keyLen);
      this.idLen = grow(this.idLen);
    }
    if (textBytes > this.text.length) {
      const next = Buffer.alloc(size(textBytes, this.text.length));
      this.text.copy(next, 0, 0, this.textUsed);
      this.text = next;
    }
  }
}
