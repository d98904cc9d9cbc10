import { mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { KoalaError } from '../errors.js';

export interface AppendFilesOptions {
  /** Created (0700) if missing. */
  dir: string;
  /** Files are `<stem>-<NNNN><ext>`, numbered from 1, never reused. */
  stem: string;
  ext: string;
  /** Written at the start of every file. */
  header?: Buffer;
  /** A file takes units up to this many bytes, then the next one starts; a bigger unit gets a file to itself. */
  rotateBytes: number;
  /** How long a unit may wait for others to share its write; 0 writes at once. */
  coalesceMs: number;
  /** Write failures (after one, every unit queued or given later is dropped and counted). */
  onError: (err: KoalaError) => void;
  /** What the files hold, for messages ("session directory", "spool directory"). */
  what: string;
}

export interface AppendFilesStats {
  unitsWritten: number;
  bytesWritten: number;
  /** write(2) calls made: units share them (see coalesceMs). */
  writes: number;
  /** Units lost to a failed write. */
  unitsDropped: number;
  files: number;
}

/** Queued bytes that start a write without waiting out coalesceMs; also the size of a write buffer. */
const CHUNK_BYTES = 256 * 1024;
/** Write buffers kept for reuse once written (more are made while writes fall behind). */
const SPARE_CHUNKS = 4;

/** Units waiting to be written, in one buffer: a write(2) each. */
interface Chunk {
  buf: Buffer;
  len: number;
  units: number;
  /** Its units go to a new file (rotation is decided as units arrive). */
  newFile: boolean;
}

/**
 * Numbered files in one directory that units (session lines, spool records) are appended to in
 * order, by one writer draining an in-memory queue. A unit is written straight into a reused
 * 256 KiB write buffer where it fits (`target`, then `commit`): a buffer per unit and another per
 * write made the allocator, page faults and GC cost more than encoding. Each run opens fresh files
 * (O_EXCL), never appending after what a crash may have torn.
 */
export class AppendFiles {
  private queue: Chunk[] = [];
  private filling: Chunk | undefined;
  private spare: Buffer[] = [];
  private unwritten = 0;
  /** Bytes given to the file being written, written or not: where the next rotation falls. */
  private fileAssigned: number;
  private waiting: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private closed = false;
  private failure: KoalaError | undefined;
  private readonly counters: AppendFilesStats = { unitsWritten: 0, bytesWritten: 0, writes: 0, unitsDropped: 0, files: 1 };
  private readonly headerBytes: number;

  private constructor(private readonly opts: AppendFilesOptions, private fh: FileHandle, private currentPath: string, private fileIndex: number) {
    this.headerBytes = opts.header?.length ?? 0;
    this.fileAssigned = this.headerBytes;
  }

  static async open(opts: AppendFilesOptions): Promise<AppendFiles> {
    if (!(opts.rotateBytes > 0)) throw new KoalaError('KOALA_ERR_STORE', `rotateBytes must be positive, got ${opts.rotateBytes}`);
    if (!(opts.coalesceMs >= 0)) throw new KoalaError('KOALA_ERR_STORE', `coalesceMs must be 0 or more, got ${opts.coalesceMs}`);
    try {
      await mkdir(opts.dir, { recursive: true, mode: 0o700 });
      if (!(await stat(opts.dir)).isDirectory()) throw new Error('not a directory');
    } catch (err) {
      throw new KoalaError('KOALA_ERR_STORE', `cannot use ${opts.what} ${opts.dir}: ${(err as Error).message}`, { cause: err });
    }
    const first = await createFile(opts, 1);
    return new AppendFiles(opts, first.fh, first.path, first.index);
  }

  /** The file written now (changes on rotation). */
  get path(): string {
    return this.currentPath;
  }

  /** Bytes given and not yet written. */
  get queuedBytes(): number {
    return this.unwritten;
  }

  /** The first write failure, if any: from then on nothing more is written. */
  get failed(): KoalaError | undefined {
    return this.failure;
  }

  /** Closed, or failed: a unit given now would be lost. */
  get refusing(): boolean {
    return this.closed || this.failure !== undefined;
  }

  stats(): AppendFilesStats {
    return { ...this.counters };
  }

  /**
   * Where the next unit may be written in place: `buf` from `off` on (its free room is
   * buf.length - off). Asked for `room` bytes, a write buffer short of them is sealed and a fresh
   * one given, when a fresh one can hold them.
   */
  target(room = 0): { buf: Buffer; off: number } {
    let c = this.filling;
    if (c !== undefined && c.buf.length - c.len < room && room <= CHUNK_BYTES) {
      this.seal();
      c = undefined;
    }
    c ??= this.startChunk(false, 0);
    return { buf: c.buf, off: c.len };
  }

  /**
   * Takes the next unit, `len` bytes: written in place at target() (no `copy`), or given whole in
   * `copy` when it did not fit there. Call only while not refusing.
   */
  commit(len: number, copy?: Uint8Array): void {
    this.take(len, copy, false);
  }

  /** Takes a unit whole in a buffer of its own that the caller hands over: it becomes a write buffer, uncopied. */
  commitOwned(unit: Buffer): void {
    this.take(unit.length, unit, true);
  }

  private take(len: number, given: Uint8Array | undefined, owned: boolean): void {
    const newFile = this.fileAssigned > this.headerBytes && this.fileAssigned + len > this.opts.rotateBytes;
    if (newFile) this.fileAssigned = this.headerBytes;
    let c = this.filling ?? this.startChunk(false, len);
    // A unit that must start the next file, or did not fit, goes into a chunk of its own.
    if (given !== undefined || (newFile && c.len > 0)) {
      const unit = given ?? c.buf.subarray(c.len, c.len + len);
      this.seal();
      if (owned) c = this.filling = { buf: unit as Buffer, len: 0, units: 0, newFile };
      else {
        c = this.startChunk(newFile, len);
        c.buf.set(unit, 0);
      }
    } else if (newFile) c.newFile = true;
    c.len += len;
    c.units++;
    this.fileAssigned += len;
    this.unwritten += len;
    // An owned buffer holds its one unit; the next goes into a write buffer of the usual size.
    if (owned) this.seal();
    this.kick();
  }

  /** Resolves once at most `bytes` are queued (or the files have failed or closed). Never rejects. */
  async drained(bytes: number): Promise<void> {
    while (this.unwritten > bytes && !this.failure && !this.closed) {
      this.kick(true);
      if (!this.draining) return;
      await this.draining;
    }
  }

  /** Resolves once every unit given so far is written and fsynced. Never rejects. */
  async flush(): Promise<void> {
    this.kick(true);
    while (this.draining) await this.draining;
    if (this.failure) return;
    try {
      await this.fh.sync();
    } catch (err) {
      this.fail(err, 'fsync');
    }
  }

  /** Flushes, then closes; later units are refused. Never rejects. */
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

  /** A chunk to fill, with room for a unit of `len` bytes (a bigger unit has one to itself). */
  private startChunk(newFile: boolean, len: number): Chunk {
    const buf = len > CHUNK_BYTES ? Buffer.allocUnsafeSlow(len) : (this.spare.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES));
    return (this.filling = { buf, len: 0, units: 0, newFile });
  }

  /** The chunk taking units joins the queue (an empty one goes back to the spares); the next unit starts another. */
  private seal(): void {
    const c = this.filling;
    if (c !== undefined && c.len > 0) this.queue.push(c);
    else if (c !== undefined) this.recycle(c.buf);
    this.filling = undefined;
  }

  private recycle(buf: Buffer): void {
    if (buf.length === CHUNK_BYTES && this.spare.length < SPARE_CHUNKS) this.spare.push(buf);
  }

  /** Starts the writer, after coalesceMs unless `now` or enough bytes are queued. */
  private kick(now = false): void {
    if (this.draining || this.unwritten === 0) return;
    if (!now && this.opts.coalesceMs > 0 && this.unwritten < CHUNK_BYTES) {
      this.waiting ??= setTimeout(() => {
        this.waiting = undefined;
        this.kick(true);
      }, this.opts.coalesceMs);
      return;
    }
    if (this.waiting) clearTimeout(this.waiting);
    this.waiting = undefined;
    // drain() catches everything itself: the promise never rejects.
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.unwritten > 0 && !this.failure) this.kick();
    });
  }

  private async drain(): Promise<void> {
    this.seal();
    while (this.queue.length > 0 && !this.failure) {
      const c = this.queue[0] as Chunk;
      if (c.newFile) {
        try {
          await this.rotate();
          c.newFile = false;
        } catch (err) {
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
        this.fail(err, 'write');
        return;
      }
      this.queue.shift();
      this.unwritten -= c.len;
      this.counters.bytesWritten += c.len;
      this.counters.unitsWritten += c.units;
      this.recycle(c.buf);
      // Units given during the write go out in the same drain.
      if (this.queue.length === 0) this.seal();
    }
  }

  private async rotate(): Promise<void> {
    await this.fh.sync();
    await this.fh.close();
    const next = await createFile(this.opts, this.fileIndex + 1);
    this.fh = next.fh;
    this.currentPath = next.path;
    this.fileIndex = next.index;
    this.counters.files++;
  }

  private fail(err: unknown, what: string): void {
    this.failure = new KoalaError('KOALA_ERR_STORE', `${what} ${this.currentPath}: ${(err as Error).message}`, { cause: err });
    this.seal();
    for (const c of this.queue) this.counters.unitsDropped += c.units;
    this.queue = [];
    this.unwritten = 0;
    this.report(this.failure);
  }

  private report(err: KoalaError): void {
    try {
      this.opts.onError(err);
    } catch {
      // A throwing error callback must not break the writer.
    }
  }
}

async function createFile(opts: AppendFilesOptions, from: number): Promise<{ fh: FileHandle; path: string; index: number }> {
  // 'wx': never reuse a file, so nothing is ever appended after a torn unit of an earlier run.
  for (let index = from; index < from + 1000; index++) {
    const path = join(opts.dir, `${opts.stem}-${String(index).padStart(4, '0')}${opts.ext}`);
    let fh: FileHandle;
    try {
      fh = await open(path, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new KoalaError('KOALA_ERR_STORE', `cannot create ${path}: ${(err as Error).message}`, { cause: err });
    }
    if (opts.header !== undefined) {
      try {
        await fh.write(opts.header);
      } catch (err) {
        await fh.close().catch(() => undefined);
        throw new KoalaError('KOALA_ERR_STORE', `cannot write ${path}: ${(err as Error).message}`, { cause: err });
      }
    }
    return { fh, path, index };
  }
  throw new KoalaError('KOALA_ERR_STORE', `no free file name for ${opts.stem} in ${opts.dir}`);
}

/** A file name's UTC stamp: yyyymmdd-hhmmss. */
export function fileStamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}
