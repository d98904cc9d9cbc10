import type { Session } from '../generated/koala/v1/session.pb.js';
import { KoalaError } from '../errors.js';
import { AppendFiles, fileStamp } from './append-files.js';
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

/**
 * Sessions as JSON Lines files (docs/session-format.md), `sessions-<stamp>-<pid>-NNNN.jsonl`. Each
 * line is encoded straight into the files' write buffer (append-files.ts); lines never interleave.
 */
export class JsonlSessionStore implements SessionStore {
  /** Sessions refused (closed, failed, not encodable); those lost to a failed write are the files'. */
  private refused = 0;

  private constructor(private readonly files: AppendFiles, private readonly onError: (err: KoalaError) => void) {}

  static async open(dir: string, opts: JsonlStoreOptions = {}): Promise<JsonlSessionStore> {
    const onError = opts.onError ?? ((err: KoalaError) => process.stderr.write(`[koala] store: ${err.message}\n`));
    const files = await AppendFiles.open({
      dir,
      stem: `sessions-${fileStamp((opts.now ?? (() => new Date()))())}-${process.pid}`,
      ext: '.jsonl',
      rotateBytes: opts.rotateBytes ?? DEFAULT_ROTATE_BYTES,
      coalesceMs: opts.coalesceMs ?? DEFAULT_COALESCE_MS,
      onError,
      what: 'session directory',
    });
    return new JsonlSessionStore(files, onError);
  }

  get path(): string {
    return this.files.path;
  }

  get queuedBytes(): number {
    return this.files.queuedBytes;
  }

  drained(bytes: number): Promise<void> {
    return this.files.drained(bytes);
  }

  stats(): JsonlStoreStats {
    const f = this.files.stats();
    return { sessionsWritten: f.unitsWritten, bytesWritten: f.bytesWritten, writes: f.writes, sessionsDropped: f.unitsDropped + this.refused, files: f.files };
  }

  append(s: Session): void {
    if (this.files.refusing) {
      this.refused++;
      this.report(new KoalaError('KOALA_ERR_STORE', `session ${s.id} dropped: store ${this.files.failed ? 'failed' : 'closed'}`));
      return;
    }
    // The line is encoded straight into the write buffer being filled; only a line that does not
    // fit there is handed over whole.
    const t = this.files.target();
    let placed: ReturnType<typeof encodeSessionLineAt>;
    try {
      placed = encodeSessionLineAt(s, t.buf, t.off);
    } catch (err) {
      this.refused++;
      this.report(new KoalaError('KOALA_ERR_STORE', `session ${s.id} not encodable: ${(err as Error).message}`, { cause: err }));
      return;
    }
    if (placed.inTarget) this.files.commit(placed.length);
    else this.files.commit(placed.line.length, placed.line);
  }

  flush(): Promise<void> {
    return this.files.flush();
  }

  close(): Promise<void> {
    return this.files.close();
  }

  private report(err: KoalaError): void {
    try {
      this.onError(err);
    } catch {
      // A throwing error callback must not break the writer.
    }
  }
}
