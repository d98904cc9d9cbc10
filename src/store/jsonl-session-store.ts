import { mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Session } from '../generated/koala/v1/session.pb.js';
import { KoalaError } from '../errors.js';
import { encodeSessionLineAt } from './session-line-encoder.js';

/** Where assembled sessions go. The JSON Lines store is the embedded default; a shared store can implement the same. */
export interface SessionStore {
  /** Queue a session; never blocks and never throws (write errors go to the store's error callback). */
  append(s: Session): void;
  /** Resolves once every session appended so far is written and fsynced. Never rejects. */
  flush(): Promise<void>;
  /** Flushes, then closes; later appends are dropped and reported. Never rejects. */
  close(): Promise<void>;
  /** The file written now (changes on rotation). */
  readonly path: string;
  /** Bytes appended and not yet written: what a writer that keeps appending holds in memory. */
  readonly queuedBytes: number;
  /** Resolves once at most `bytes` are queued (or the store has failed or closed). Never rejects. */
  drained(bytes: number): Promise<void>;
}

export interface JsonlStoreOptions {
  /** A file takes lines up to this many bytes, then the next one starts (default 256 MiB; a bigger line gets a file to itself). */
  rotateBytes?: number;
  /** Write failures; default: one line on stderr per failure. */
  onError?: (err: KoalaError) => void;
  /** For tests: the clock used for the file name. */
  now?: () => Date;
  /**
   * How long a line may wait for others to share its write (default 5 ms); 0 writes at once. A
   * write per session was 15% of a recording gateway's CPU; lines are in memory either way.
   */
  coalesceMs?: number;
}

export interface JsonlStoreStats {
  sessionsWritten: number;
  bytesWritten: number;
  /** write(2) calls made: sessions share them (see coalesceMs). */
  writes: number;
  sessionsDropped: number;
  files: number;
}

const DEFAULT_ROTATE_BYTES = 256 * 1024 * 1024;
const DEFAULT_COALESCE_MS = 5;
/** Queued bytes that start a write without waiting out coalesceMs; also the size of a write buffer. */
const COALESCE_BYTES = 256 * 1024;
/** Write buffers kept for reuse once written (more are made while writes fall behind). */
const SPARE_CHUNKS = 4;

/** Lines waiting to be written, in one buffer: a write(2) each. */
interface Chunk {
  buf: Buffer;
  len: number;
  sessions: number;
  /** Its lines go to a new file (rotation is decided as lines arrive). */
  newFile: boolean;
}

/**
 * Sessions as JSON Lines files (docs/session-format.md). One writer drains an in-memory queue, so
 * lines never interleave; each gateway run opens fresh files (never appending after a line a
 * crash may have torn). Lines are copied straight into reused write buffers: a buffer per line
 * and another per write made the allocator, page faults and GC cost more than the encoding.
 */
export class JsonlSessionStore implements SessionStore {
  private fh: FileHandle;
  private currentPath: string;
  private fileIndex: number;
  /** Sealed chunks, oldest first; `filling` takes new lines. */
  private queue: Chunk[] = [];
  private filling: Chunk | undefined;
  private spare: Buffer[] = [];
  private unwritten = 0;
  /** Bytes given to the file being written, written or not: where the next rotation falls. */
  private fileAssigned = 0;
  private waiting: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private closed = false;
  private failed: KoalaError | undefined;
  private readonly counters: JsonlStoreStats = { sessionsWritten: 0, bytesWritten: 0, writes: 0, sessionsDropped: 0, files: 1 };

  private constructor(
    private readonly dir: string,
    private readonly stem: string,
    private readonly rotateBytes: number,
    private readonly coalesceMs: number,
    private readonly onError: (err: KoalaError) => void,
    first: { fh: FileHandle; path: string; index: number },
  ) {
    this.fh = first.fh;
    this.currentPath = first.path;
    this.fileIndex = first.index;
  }

  static async open(dir: string, opts: JsonlStoreOptions = {}): Promise<JsonlSessionStore> {
    const rotateBytes = opts.rotateBytes ?? DEFAULT_ROTATE_BYTES;
    if (!(rotateBytes > 0)) throw new KoalaError('KOALA_ERR_STORE', `rotateBytes must be positive, got ${rotateBytes}`);
    const coalesceMs = opts.coalesceMs ?? DEFAULT_COALESCE_MS;
    if (!(coalesceMs >= 0)) throw new KoalaError('KOALA_ERR_STORE', `coalesceMs must be 0 or more, got ${coalesceMs}`);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
    } catch (err) {
      throw new KoalaError('KOALA_ERR_STORE', `cannot use session directory ${dir}: ${(err as Error).message}`, { cause: err });
    }
    const stem = `sessions-${stamp((opts.now ?? (() => new Date()))())}-${process.pid}`;
    const first = await createFile(dir, stem, 1);
    const onError = opts.onError ?? ((err: KoalaError) => process.stderr.write(`[koala] store: ${err.message}\n`));
    return new JsonlSessionStore(dir, stem, rotateBytes, coalesceMs, onError, first);
  }

  get path(): string {
    return this.currentPath;
  }

  get queuedBytes(): number {
    return this.unwritten;
  }

  async drained(bytes: number): Promise<void> {
    while (this.unwritten > bytes && !this.failed && !this.closed) {
      this.kick(true);
      if (!this.draining) return;
      await this.draining;
    }
  }

  stats(): JsonlStoreStats {
    return { ...this.counters };
  }

  append(s: Session): void {
    if (this.closed || this.failed) {
      this.counters.sessionsDropped++;
      this.report(new KoalaError('KOALA_ERR_STORE', `session ${s.id} dropped: store ${this.closed ? 'closed' : 'failed'}`));
      return;
    }
    // The line is encoded straight into the chunk being filled; only a line that does not fit
    // there, or that must start the next file, is copied into a chunk of its own.
    let c = this.filling ?? this.startChunk(false, 0);
    let placed: ReturnType<typeof encodeSessionLineAt>;
    try {
      placed = encodeSessionLineAt(s, c.buf, c.len);
    } catch (err) {
      this.counters.sessionsDropped++;
      this.report(new KoalaError('KOALA_ERR_STORE', `session ${s.id} not encodable: ${(err as Error).message}`, { cause: err }));
      return;
    }
    const len = placed.inTarget ? placed.length : placed.line.length;
    // A file takes lines up to rotateBytes, and at least one (a bigger line gets a file to itself).
    const newFile = this.fileAssigned > 0 && this.fileAssigned + len > this.rotateBytes;
    if (newFile) this.fileAssigned = 0;
    if (!placed.inTarget || (newFile && c.len > 0)) {
      const line = placed.inTarget ? c.buf.subarray(c.len, c.len + len) : placed.line;
      this.seal();
      c = this.startChunk(newFile, len);
      line.copy(c.buf, 0);
    } else if (newFile) c.newFile = true;
    c.len += len;
    c.sessions++;
    this.fileAssigned += len;
    this.unwritten += len;
    this.kick();
  }

  /** A chunk to fill, with room for a line of `len` bytes (a bigger line has one to itself). */
  private startChunk(newFile: boolean, len: number): Chunk {
    const buf = len > COALESCE_BYTES ? Buffer.allocUnsafeSlow(len) : (this.spare.pop() ?? Buffer.allocUnsafeSlow(COALESCE_BYTES));
    return (this.filling = { buf, len: 0, sessions: 0, newFile });
  }

  /** The chunk taking lines joins the queue (an empty one goes back to the spares); the next line starts another. */
  private seal(): void {
    const c = this.filling;
    if (c !== undefined && c.len > 0) this.queue.push(c);
    else if (c !== undefined && c.buf.length === COALESCE_BYTES && this.spare.length < SPARE_CHUNKS) this.spare.push(c.buf);
    this.filling = undefined;
  }

  async flush(): Promise<void> {
    this.kick(true);
    while (this.draining) await this.draining;
    if (this.failed) return;
    try {
      await this.fh.sync();
    } catch (err) {
      this.fail(err, 'fsync');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    try {
      await this.fh.close();
    } catch (err) {
      this.report(new KoalaError('KOALA_ERR_STORE', `close ${this.currentPath}: ${(err as Error).message}`, { cause: err }));
    }
  }

  /** Starts the writer, after coalesceMs unless `now` or enough bytes are queued. */
  private kick(now = false): void {
    if (this.draining || this.unwritten === 0) return;
    if (!now && this.coalesceMs > 0 && this.unwritten < COALESCE_BYTES) {
      this.waiting ??= setTimeout(() => {
        this.waiting = undefined;
        this.kick(true);
      }, this.coalesceMs);
      return;
    }
    if (this.waiting) clearTimeout(this.waiting);
    this.waiting = undefined;
    // drain() catches everything itself: the promise never rejects.
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.unwritten > 0 && !this.failed) this.kick();
    });
  }

  private async drain(): Promise<void> {
    this.seal();
    while (this.queue.length > 0 && !this.failed) {
      const c = this.queue.shift()!;
      if (c.newFile) {
        try {
          await this.rotate();
        } catch (err) {
          this.queue.unshift(c);
          this.fail(err, 'rotate');
          return;
        }
      }
      try {
        let off = 0;
        while (off < c.len) {
          this.counters.writes++;
          off += (await this.fh.write(c.buf, off, c.len - off)).bytesWritten;
        }
      } catch (err) {
        this.queue.unshift(c);
        this.fail(err, 'write');
        return;
      }
      this.unwritten -= c.len;
      this.counters.bytesWritten += c.len;
      this.counters.sessionsWritten += c.sessions;
      if (c.buf.length === COALESCE_BYTES && this.spare.length < SPARE_CHUNKS) this.spare.push(c.buf);
      // Lines that arrived during the write go out in the same drain.
      if (this.queue.length === 0) this.seal();
    }
  }

  private async rotate(): Promise<void> {
    await this.fh.sync();
    await this.fh.close();
    const next = await createFile(this.dir, this.stem, this.fileIndex + 1);
    this.fh = next.fh;
    this.currentPath = next.path;
    this.fileIndex = next.index;
    this.counters.files++;
  }

  private fail(err: unknown, what: string): void {
    this.failed = new KoalaError('KOALA_ERR_STORE', `${what} ${this.currentPath}: ${(err as Error).message}`, { cause: err });
    this.seal();
    for (const c of this.queue) this.counters.sessionsDropped += c.sessions;
    this.queue = [];
    this.unwritten = 0;
    this.report(this.failed);
  }

  private report(err: KoalaError): void {
    try {
      this.onError(err);
    } catch {
      // A throwing error callback must not break the writer.
    }
  }
}

async function createFile(dir: string, stem: string, from: number): Promise<{ fh: FileHandle; path: string; index: number }> {
  // 'wx': never reuse a file, so nothing is ever appended after a torn line of an earlier run.
  for (let index = from; index < from + 1000; index++) {
    const path = join(dir, `${stem}-${String(index).padStart(4, '0')}.jsonl`);
    try {
      return { fh: await open(path, 'wx', 0o600), path, index };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new KoalaError('KOALA_ERR_STORE', `cannot create ${path}: ${(err as Error).message}`, { cause: err });
      }
    }
  }
  throw new KoalaError('KOALA_ERR_STORE', `no free file name for ${stem} in ${dir}`);
}

function stamp(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}
