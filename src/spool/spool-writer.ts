import { AgentHello } from '../generated/koala/v1/agent.pb.js';
import type { KoalaError } from '../errors.js';
import { AppendFiles, fileStamp } from '../store/append-files.js';
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
/** Records wait this long to share a write(2) (unless 256 KiB are queued). */
const COALESCE_MS = 5;

/**
 * Appends spool records (spool-format.ts) to `spool-<stamp>-<pid>-NNNN.kspool` files. Receiving
 * threads call it with buffers they may reuse at once: every record is copied, straight into the
 * files' write buffer where it fits (append-files.ts). It never throws from an append: failures go
 * to onError and the records lost are counted.
 */
export class SpoolWriter {
  private readonly counters = { records: 0, batches: 0, bytes: 0, refused: 0 };

  private constructor(private readonly files: AppendFiles) {}

  static async open(dir: string, opts: SpoolWriterOptions = {}): Promise<SpoolWriter> {
    return new SpoolWriter(
      await AppendFiles.open({
        dir,
        stem: `spool-${fileStamp((opts.now ?? (() => new Date()))())}-${process.pid}`,
        ext: SPOOL_EXT,
        header: SPOOL_MAGIC,
        rotateBytes: opts.rotateBytes ?? DEFAULT_ROTATE_BYTES,
        coalesceMs: COALESCE_MS,
        onError: opts.onError ?? ((err: KoalaError) => process.stderr.write(`[koala] spool: ${err.message}\n`)),
        what: 'spool directory',
      }),
    );
  }

  /** The file written now (changes on rotation). */
  get path(): string {
    return this.files.path;
  }

  /** Bytes given and not yet written. */
  get queuedBytes(): number {
    return this.files.queuedBytes;
  }

  stats(): SpoolStats {
    const f = this.files.stats();
    const c = this.counters;
    return { records: c.records, batches: c.batches, bytes: c.bytes, bytesWritten: f.bytesWritten, recordsDropped: f.unitsDropped + c.refused, files: f.files };
  }

  hello(link: number, hello: AgentHello, at: number): void {
    this.append(RecordKind.Hello, link, at, AgentHello.encode(hello).finish());
  }

  /** One AgentMessage{batch} as received; copied, so the caller's buffer is free at once. */
  batch(link: number, frame: Uint8Array, at: number): void {
    if (this.append(RecordKind.Batch, link, at, frame)) this.counters.batches++;
  }

  gone(link: number, at: number): void {
    this.append(RecordKind.Gone, link, at, undefined);
  }

  tick(at: number): void {
    this.append(RecordKind.Tick, NO_LINK, at, undefined);
  }

  /** Resolves once at most `bytes` are queued (or the spool has failed or closed). Never rejects. */
  drained(bytes: number): Promise<void> {
    return this.files.drained(bytes);
  }

  /** Resolves once every record given so far is written and fsynced. Never rejects. */
  flush(): Promise<void> {
    return this.files.flush();
  }

  /** Writes the END record (the spool was not cut short), flushes and closes. Never rejects. */
  async close(at: number = Date.now()): Promise<void> {
    if (!this.files.refusing) this.append(RecordKind.End, NO_LINK, at, undefined);
    await this.files.close();
  }

  private append(kind: RecordKind, link: number, at: number, payload: Uint8Array | undefined): boolean {
    if (this.files.refusing) {
      this.counters.refused++;
      return false;
    }
    const n = payload?.byteLength ?? 0;
    const len = RECORD_HEADER_BYTES + n;
    const t = this.files.target(len);
    if (t.buf.length - t.off >= len) {
      writeRecordHeader(t.buf, t.off, kind, link, at, n);
      if (payload !== undefined) t.buf.set(payload, t.off + RECORD_HEADER_BYTES);
      this.files.commit(len);
    } else {
      // Bigger than a write buffer (a busy agent's batch often is): a buffer of its own.
      const whole = Buffer.allocUnsafeSlow(len);
      writeRecordHeader(whole, 0, kind, link, at, n);
      if (payload !== undefined) whole.set(payload, RECORD_HEADER_BYTES);
      this.files.commitOwned(whole);
    }
    this.counters.records++;
    this.counters.bytes += len;
    return true;
  }
}

/** Ticks and the end belong to no agent. */
const NO_LINK = 0;
