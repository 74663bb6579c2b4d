/**
 * The API's read: a user's rows and neighbour graph from the refs and graph files alone, never the
 * vectors, in O(photos × (about 15 bytes + key and id) + edges × 12) of reading and of memory.
 *
 * Lock-free like every read: refs first, then the graph. A writer appends a batch's graph frame
 * before its log records and its refs frame after them, but only the log is synced, and on a network
 * filesystem another client may see the two derived files' new bytes in either order. So a view takes
 * rows only up to the last record both files cover: a refs frame whose graph frame has not arrived
 * (or was lost in a crash, until the next write for the user restores it) waits, like a frame still
 * being written, and is read again next time. Given the view it returned before, `readView` reads
 * only the bytes each file grew by; a file replaced (a compaction or a rebuild: another header, or
 * inode) or shorter than what was read (a writer cut a tail) means a full read. Files with no refs
 * (format 1, until the next write, compaction or migrate upgrades them) are read whole, vectors
 * included, as `read` does (see snapshot.ts).
 */
import { stat } from "node:fs/promises";
import { CorruptStoreError } from "../../errors.ts";
import { EdgeList } from "../format/edge-list.ts";
import { grow } from "../write/live-set.ts";
import { decodeGraphHeader, decodeRefsHeader, graphFits } from "../format/file-header.ts";
import { readPathFrom } from "../fs-util.ts";
import { readGraphFrames } from "../format/graph-file.ts";
import type { NeighbourGraph } from "../types.ts";
import type { PhotoFacts } from "../../facts/photo-facts.ts";
import { FactsIndex } from "./facts-index.ts";
import { readSnapshot } from "./read-snapshot.ts";
import { ENTRY, entryIsPut, readRefsFrame } from "../format/refs-file.ts";
import { viewOfSnapshot } from "./snapshot.ts";
import type { UserView } from "../types.ts";
import { assertModel, type FilesContext } from "../write/user-files.ts";

const ATTEMPTS = 3;
const u16 = (b: Buffer, p: number): number => b[p] | (b[p + 1] << 8);

export async function readView(ctx: FilesContext, userId: string, previous?: UserView): Promise<UserView> {
  if (previous instanceof GraphView && previous.userId === userId && previous.model === ctx.model.id && (await previous.refresh(ctx))) {
    await previous.factsIndex.refresh(ctx.paths.facts, ctx.logger.warn.bind(ctx.logger));
    return previous;
  }
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const refs = await readPathFrom(ctx.paths.refs, 0);
    if (!refs) break; // format 1, or no photos yet
    const head = decodeRefsHeader(refs.buf);
    if (head.status === "corrupt") throw new CorruptStoreError(`${ctx.paths.refs}: unreadable header (${head.reason})`);
    if (head.status === "truncated") break;
    assertModel(head.header, ctx.model, ctx.paths.refs);
    const graph = await readPathFrom(ctx.paths.graph, 0);
    const graphHead = graph && decodeGraphHeader(graph.buf);
    if (graphHead?.status !== "ok" || !graphFits(graphHead.header, head.header.fileId, ctx.model.defaults.graphFloor)) {
      continue; // a compaction renamed the files between our two reads: read again
    }
    const view = new GraphView(userId, head.header.modelId, head.header.dimension, graphHead.header.floor, {
      refsIno: refs.ino,
      graphIno: graph!.ino,
      refsHead: Buffer.from(refs.buf.subarray(0, head.header.length)),
      graphHead: Buffer.from(graph!.buf.subarray(0, graphHead.header.length)),
    });
    view.take(refs.buf, head.header.length, graph!.buf, graphHead.header.length);
    await view.factsIndex.refresh(ctx.paths.facts, ctx.logger.warn.bind(ctx.logger));
    return view;
  }
  return viewOfSnapshot(await readSnapshot(ctx, userId));
}

interface FileIdentity {
  refsIno: number;
  graphIno: number;
  /** The headers as first read: a file rewritten at its path has another (file-header.ts's stamp). */
  refsHead: Buffer;
  graphHead: Buffer;
}

class GraphView implements UserView {
  readonly vectors = null;
  readonly factsIndex = new FactsIndex();
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
  /** How far each file has been read (just past its last frame taken). */
  private refsEnd = 0;
  private graphEnd = 0;

  constructor(
    readonly userId: string,
    readonly model: string,
    readonly dimension: number,
    private readonly floor: number,
    private readonly files: FileIdentity,
  ) {}

  /** Always covers every row: rows are taken only as far as the graph's frames reach. */
  get graph(): NeighbourGraph {
    const { a, b, s, length } = this.edges;
    return { floor: this.floor, edges: { a: a.subarray(0, length), b: b.subarray(0, length), s: s.subarray(0, length) } };
  }

  get bytes(): number {
    const arrays = [this.alive, this.crcs, this.textAt, this.keyLen, this.idLen, this.edges.a, this.edges.b, this.edges.s, this.text];
    return arrays.reduce((n, a) => n + a.byteLength, 0) + this.factsIndex.bytes;
  }

  live(row: number): boolean {
    return this.alive[row] === 1;
  }

  /** The frame checksum of row's record in the log, as the refs file gives it. */
  crc(row: number): number {
    return this.crcs[row];
  }

  facts(row: number): PhotoFacts | null {
    return this.alive[row] === 1 ? this.factsIndex.get(this.key(row), this.crcs[row]) : null;
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
    const used = this.takeBoth(refs, refsFrom, graph, graphFrom);
    this.refsEnd = used.refs;
    this.graphEnd = used.graph;
  }

  /** Reads what the files grew by; false when they were replaced or cut, and a full read is needed. */
  async refresh(ctx: FilesContext): Promise<boolean> {
    const { refs, graph } = ctx.paths;
    const { files } = this;
    const [r, g] = await Promise.all([refs, graph].map((p) => stat(p).catch(() => null)));
    if (!r || !g || r.ino !== files.refsIno || g.ino !== files.graphIno || r.size < this.refsEnd || g.size < this.graphEnd) return false;
    if (r.size === this.refsEnd && g.size === this.graphEnd) return true;
    const [rt, gt] = [await readPathFrom(refs, this.refsEnd, files.refsHead.length), await readPathFrom(graph, this.graphEnd, files.graphHead.length)];
    if (!rt || !gt || rt.ino !== files.refsIno || gt.ino !== files.graphIno || !rt.head.equals(files.refsHead) || !gt.head.equals(files.graphHead))
      return false;
    // The buffers start where the last read stopped.
    const used = this.takeBoth(rt.buf, 0, gt.buf, 0);
    this.refsEnd += used.refs;
    this.graphEnd += used.graph;
    return true;
  }

  /**
   * Takes the refs frames and graph frames that continue this view, up to the last record both files
   * cover (their frames end together there); returns the offsets just past what it took.
   */
  private takeBoth(refs: Buffer, refsAt: number, graph: Buffer, graphAt: number): { refs: number; graph: number } {
    const frames: Array<{ from: number; count: number; at: number; idBytes: number; next: number }> = [];
    let rows = this.rows;
    for (let offset = refsAt; ; ) {
      const frame = readRefsFrame(refs, offset);
      if (frame.status !== "ok" || frame.from !== rows) break;
      frames.push(frame);
      rows += frame.count;
      offset = frame.next;
    }
    // The graph's frames name their records by checksum: those of the rows read so far and of these.
    const crcs = new Uint32Array(rows);
    crcs.set(this.crcs.subarray(0, this.rows));
    for (const f of frames) {
      for (let i = 0, p = f.at; i < f.count; i++, p += ENTRY.fixed + u16(refs, p + ENTRY.keyLen) + u16(refs, p + ENTRY.idLen) + u16(refs, p + ENTRY.etagLen)) {
        crcs[f.from + i] = (refs[p + 12] | (refs[p + 13] << 8) | (refs[p + 14] << 16) | (refs[p + 15] << 24)) >>> 0;
      }
    }
    const graphFrames: Array<{ at: number; count: number; to: number; next: number }> = [];
    readGraphFrames(graph, graphAt, this.rows, crcs, (_, at, count, to, next) => graphFrames.push({ at, count, to, next }));
    const refsEnds = new Set(frames.map((f) => f.from + f.count));
    let upTo = this.rows;
    let graphUsed = graphAt;
    let graphTaken = 0;
    graphFrames.forEach((g, i) => {
      if (!refsEnds.has(g.to)) return;
      upTo = g.to;
      graphUsed = g.next;
      graphTaken = i + 1;
    });
    const taken = frames.filter((f) => f.from + f.count <= upTo);
    this.takeRefs(refs, taken, upTo);
    const first = this.edges.a.length === 0;
    if (first) this.edges = new EdgeList(Math.ceil((graph.length - graphAt) / 12));
    const from = this.edges.length;
    for (const g of graphFrames.slice(0, graphTaken)) this.edges.pushRaw(graph, g.at, g.count);
    if (this.imageCount < this.rows) {
      const { alive } = this;
      this.edges.retain((a, b) => alive[a] === 1 && alive[b] === 1, from);
    }
    if (first) this.edges.shrink(); // the estimate counted the frames' headers
    return { refs: taken.length > 0 ? taken[taken.length - 1].next : refsAt, graph: graphUsed };
  }

  /** Appends the rows of these refs frames (`rows` in all once taken). */
  private takeRefs(buf: Buffer, frames: ReadonlyArray<{ count: number; at: number; idBytes: number }>, rows: number): void {
    const textBytes = frames.reduce((n, f) => n + f.idBytes, 0);
    this.reserve(rows, this.textUsed + textBytes);
    // Locals and byte arithmetic: this loop runs once per photo on a first read.
    const { alive, text, crcs, keyLen, idLen, textAt } = this;
    const firstNew = this.rows;
    let row = this.rows;
    let used = this.textUsed;
    let count = this.imageCount;
    let deaths = false;
    for (const frame of frames) {
      for (let i = 0, p = frame.at; i < frame.count; i++, row++) {
        const keyBytes = u16(buf, p + ENTRY.keyLen);
        const idBytes = u16(buf, p + ENTRY.idLen);
        const supersedes = buf[p + 8] | (buf[p + 9] << 8) | (buf[p + 10] << 16) | (buf[p + 11] << 24);
        if (supersedes >= 0 && alive[supersedes] === 1) {
          alive[supersedes] = 0;
          count--;
          if (supersedes < firstNew) deaths = true;
        }
        const put = entryIsPut(buf, p);
        alive[row] = put ? 1 : 0;
        if (put) count++;
        crcs[row] = (buf[p + 12] | (buf[p + 13] << 8) | (buf[p + 14] << 16) | (buf[p + 15] << 24)) >>> 0;
        keyLen[row] = keyBytes;
        idLen[row] = idBytes;
        textAt[row] = used;
        // Key and id: a few dozen bytes, cheaper copied in a loop than by a call each.
        const src = p + ENTRY.fixed;
        const length = keyBytes + idBytes;
        for (let k = 0; k < length; k++) text[used + k] = buf[src + k];
        used += length;
        p += ENTRY.fixed + length + u16(buf, p + ENTRY.etagLen);
      }
    }
    this.rows = row;
    this.textUsed = used;
    this.imageCount = count;
    // Edges read before to rows replaced now; those of the frames taken with these rows are filtered as they come.
    if (deaths) this.edges.retain((a, b) => alive[a] === 1 && alive[b] === 1);
  }

  /** Room for `rows` rows and `textBytes` of text: exact on a first read, with headroom when growing. */
  private reserve(rows: number, textBytes: number): void {
    const first = this.alive.length === 0;
    const size = (need: number, have: number) => (first ? need : Math.max(need, Math.ceil(have * 1.5)));
    if (rows > this.alive.length) {
      const capacity = size(rows, this.alive.length);
      this.alive = grow(this.alive, capacity);
      this.crcs = grow(this.crcs, capacity);
      this.textAt = grow(this.textAt, capacity);
      this.keyLen = grow(this.keyLen, capacity);
      this.idLen = grow(this.idLen, capacity);
    }
    if (textBytes > this.text.length) {
      const next = Buffer.alloc(size(textBytes, this.text.length));
      this.text.copy(next, 0, 0, this.textUsed);
      this.text = next;
    }
  }
}
