import { mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentHello } from '../generated/koala/v1/agent.pb.js';
import { KoalaError } from '../errors.js';
import { RECORD_HEADER_BYTES, RecordKind, SPOOL_EXT, SPOOL_MAGIC, writeRecordHeader } from './spool-format.js';

export interface SpoolWriterOptions {
  /** A file takes records up to this many bytes, then the next one starts (default 1 GiB). */
  rotateBytes?: number;
  /** Write failures; default: one line on stderr per failure. */
  onError?: (err: KoalaError) => void;
  /** For tests: the clock used for the file name. */
  now?: () => Date;
}

export interface SpoolStats {
  records: number;
  batches: number;
  /** Bytes given to the spool (headers included), written or not. */
  bytes: number;
  bytesWritten: number;
  /** Records lost to a failed write, or given after close. */
  recordsDropped: number;
  files: number;
}

const DEFAULT_ROTATE_BYTES = 1024 * 1024 * 1024;
/** Records wait this long to share a write(2) unless CHUNK_BYTES are queued. */
const COALESCE_MS = 5;
const CHUNK_BYTES = 256 * 1024;
const SPARE_CHUNKS = 4;

interface Chunk {
  buf: Buffer;
  len: number;
  records: number;
  /** Its records start the next file. */
  newFile: boolean;
}

/**
 * Appends spool records (spool-format.ts) to files under a directory. Receiving threads call it
 * with buffers they may reuse at once, so every record is copied, into reused 256 KiB chunks that
 * one writer drains in order. It never throws from an append: failures go to onError and the
 * records lost are counted.
 */
export class SpoolWriter {
  private queue: Chunk[] = [];
  private filling: Chunk | undefined;
  private spare: Buffer[] = [];
  private unwritten = 0;
  private fileAssigned = SPOOL_MAGIC.length;
  private waiting: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private closed = false;
  private failed: KoalaError | undefined;
  private readonly counters: SpoolStats = { records: 0, batches: 0, bytes: 0, bytesWritten: 0, recordsDropped: 0, files: 1 };

  private constructor(
    private fh: FileHandle,
    private currentPath: string,
    private fileIndex: number,
    private readonly dir: string,
    private readonly stem: string,
    private readonly rotateBytes: number,
    private readonly onError: (err: KoalaError) => void,
  ) {}

  static async open(dir: string, opts: SpoolWriterOptions = {}): Promise<SpoolWriter> {
    const rotateBytes = opts.rotateBytes ?? DEFAULT_ROTATE_BYTES;
    if (!(rotateBytes > 0)) throw new KoalaError('KOALA_ERR_STORE', `spool rotateBytes must be positive, got ${rotateBytes}`);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
    } catch (err) {
      throw new KoalaError('KOALA_ERR_STORE', `cannot use spool directory ${dir}: ${(err as Error).message}`, { cause: err });
    }
    const stem = `spool-${stamp((opts.now ?? (() => new Date()))())}-${process.pid}`;
    const first = await createSpoolFile(dir, stem, 1);
    const onError = opts.onError ?? ((err: KoalaError) => process.stderr.write(`[koala] spool: ${err.message}\n`));
    return new SpoolWriter(first.fh, first.path, first.index, dir, stem, rotateBytes, onError);
  }

  /** The file written now (changes on rotation). */
  get path(): string {
    return this.currentPath;
  }

  /** Bytes given and not yet written. */
  get queuedBytes(): number {
    return this.unwritten;
  }

  stats(): SpoolStats {
    return { ...this.counters };
  }

  hello(link: number, hello: AgentHello, at: number): void {
    const payload = Buffer.from(AgentHello.encode(hello).finish());
    this.append(RecordKind.Hello, link, at, payload);
  }

  /** One AgentMessage{batch} as received; copied, so the caller's buffer is free at once. */
  batch(link: number, frame: Uint8Array, at: number): void {
    if (this.append(RecordKind.Batch, link, at, frame)) this.counters.batches++;
  }

  gone(link: number, at: number): void {
    this.append(RecordKind.Gone, link, at, undefined);
  }

  tick(at: number): void {
    this.append(RecordKind.Tick, link0, at, undefined);
  }

  /** Resolves once at most `bytes` are queued (or the spool has failed or closed). Never rejects. */
  async drained(bytes: number): Promise<void> {
    while (this.unwritten > bytes && !this.failed) {
      this.kick(true);
      if (!this.draining) return;
      await this.draining;
    }
  }

  /** Resolves once every record given so far is written and fsynced. Never rejects. */
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

  /** Writes the END record (the spool was not cut short), flushes and closes. Never rejects. */
  async close(at: number = Date.now()): Promise<void> {
    if (this.closed) return;
    this.append(RecordKind.End, link0, at, undefined);
    this.closed = true;
    await this.flush();
    try {
      await this.fh.close();
    } catch (err) {
      this.report(new KoalaError('KOALA_ERR_STORE', `close ${this.currentPath}: ${(err as Error).message}`, { cause: err }));
    }
  }

  private append(kind: RecordKind, link: number, at: number, payload: Uint8Array | undefined): boolean {
    if (this.closed || this.failed) {
      this.counters.recordsDropped++;
      return false;
    }
    const n = payload?.byteLength ?? 0;
    const len = RECORD_HEADER_BYTES + n;
    // A file takes records up to rotateBytes, and at least one.
    const newFile = this.fileAssigned > SPOOL_MAGIC.length && this.fileAssigned + len > this.rotateBytes;
    if (newFile) this.fileAssigned = SPOOL_MAGIC.length;
    let c = this.filling;
    if (c === undefined || newFile || c.len + len > c.buf.length) {
      this.seal();
      c = this.startChunk(newFile, len);
    }
    writeRecordHeader(c.buf, c.len, kind, link, at, n);
    if (payload !== undefined) c.buf.set(payload, c.len + RECORD_HEADER_BYTES);
    c.len += len;
    c.records++;
    this.fileAssigned += len;
    this.unwritten += len;
    this.counters.records++;
    this.counters.bytes += len;
    this.kick();
    return true;
  }

  private startChunk(newFile: boolean, len: number): Chunk {
    const buf = len > CHUNK_BYTES ? Buffer.allocUnsafeSlow(len) : (this.spare.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES));
    return (this.filling = { buf, len: 0, records: 0, newFile });
  }

  private seal(): void {
    const c = this.filling;
    if (c !== undefined && c.len > 0) this.queue.push(c);
    else if (c !== undefined) this.recycle(c.buf);
    this.filling = undefined;
  }

  private recycle(buf: Buffer): void {
    if (buf.length === CHUNK_BYTES && this.spare.length < SPARE_CHUNKS) this.spare.push(buf);
  }

  private kick(now = false): void {
    if (this.draining || this.unwritten === 0) return;
    if (!now && this.unwritten < CHUNK_BYTES) {
      this.waiting ??= setTimeout(() => {
        this.waiting = undefined;
        this.kick(true);
      }, COALESCE_MS);
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
      const c = this.queue[0]!;
      try {
        if (c.newFile) {
          await this.nextFile();
          c.newFile = false;
        }
        for (let off = 0; off < c.len; ) off += (await this.fh.write(c.buf, off, c.len - off)).bytesWritten;
      } catch (err) {
        this.fail(err, c.newFile ? 'rotate' : 'write');
        return;
      }
      this.queue.shift();
      this.unwritten -= c.len;
      this.counters.bytesWritten += c.len;
      this.recycle(c.buf);
      // Records given during the write go out in the same drain.
      if (this.queue.length === 0) this.seal();
    }
  }

  private async nextFile(): Promise<void> {
    await this.fh.sync();
    await this.fh.close();
    const next = await createSpoolFile(this.dir, this.stem, this.fileIndex + 1);
    this.fh = next.fh;
    this.currentPath = next.path;
    this.fileIndex = next.index;
    this.counters.files++;
  }

  private fail(err: unknown, what: string): void {
    this.failed = new KoalaError('KOALA_ERR_STORE', `spool ${what} ${this.currentPath}: ${(err as Error).message}`, { cause: err });
    this.seal();
    for (const c of this.queue) this.counters.recordsDropped += c.records;
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

/** Ticks and the end belong to no agent. */
const link0 = 0;

async function createSpoolFile(dir: string, stem: string, from: number): Promise<{ fh: FileHandle; path: string; index: number }> {
  // 'wx': never append to a file an earlier run (or a crash) left.
  for (let index = from; index < from + 1000; index++) {
    const path = join(dir, `${stem}-${String(index).padStart(4, '0')}${SPOOL_EXT}`);
    let fh: FileHandle;
    try {
      fh = await open(path, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new KoalaError('KOALA_ERR_STORE', `cannot create ${path}: ${(err as Error).message}`, { cause: err });
    }
    await fh.write(SPOOL_MAGIC);
    return { fh, path, index };
  }
  throw new KoalaError('KOALA_ERR_STORE', `no free file name for ${stem} in ${dir}`);
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}
