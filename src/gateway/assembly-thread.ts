/**
 * The main thread's side of the assembly thread. Receiving agent traffic stays here; decoding,
 * assembling and storing run on a worker thread at a low priority, so a recording gateway on the
 * SUT's machine takes CPU the SUT leaves idle rather than CPU it needs. What the worker has not
 * reached yet is bounded: past `backlogBytes` the gateway stops reading from its agents, whose
 * own bounded buffers then drop and count (nothing is lost without a count).
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { AgentHello } from '../generated/koala/v1/agent.pb.js';
import type { Session } from '../generated/koala/v1/session.pb.js';
import { KoalaError, type KoalaErrorCode } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { EMPTY_ASSEMBLY_STATS, type AssemblyCoreOptions } from './assembly-core.js';
import type { AssemblyWorkerData, FromWorker, ToWorker, WorkerStats } from './assembly-protocol.js';

export interface AssemblyThreadOptions {
  assembler: AssemblyCoreOptions['assembler'];
  storeDir: string | undefined;
  logger: Logger;
  nice: number;
  backlogBytes: number;
}

export interface AssemblyThreadHooks {
  /** A session the thread assembled (and stored), sent while forwarding is on. */
  session(s: Session): void;
  /** A batch from this link did not decode; the link must be ended. */
  malformed(link: number, message: string): void;
  /** Stop (true) or resume (false) reading from agents: the backlog crossed its bound. */
  backlog(paused: boolean): void;
}

const EMPTY_STATS: WorkerStats = { ...EMPTY_ASSEMBLY_STATS, processedBytes: 0, nice: undefined };

/**
 * Built, the worker is assembly-worker.js. Run from source under tsx, Node 20 does not carry
 * tsx's loader into worker threads, so a one-line bootstrap loads the .ts entry through tsx's API.
 */
function startWorker(workerData: AssemblyWorkerData): Worker {
  const options = { workerData, stdout: false, stderr: false };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./assembly-worker.js', import.meta.url), options);
  const entry = new URL('./assembly-worker.ts', import.meta.url).href;
  const api = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const boot = `import(${JSON.stringify(api)}).then((tsx) => tsx.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(boot, { ...options, eval: true });
}

/** Turns the plain Uint8Arrays a structured clone yields back into Buffers, as an inline assembler gives. */
function reviveBuffers<T>(v: T): T {
  if (v instanceof Uint8Array) return (Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength)) as T;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = reviveBuffers(v[i]);
  } else if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) o[k] = reviveBuffers(o[k]);
  }
  return v;
}

export class AssemblyThread {
  private worker!: Worker;
  private last: WorkerStats = EMPTY_STATS;
  private sentBytes = 0;
  private paused = false;
  private forward = false;
  private closing: Promise<void> | undefined;
  private nextFlush = 0;
  private readonly flushes = new Map<number, () => void>();
  private readonly hellos = new Map<number, AgentHello>();
  private restarts = 0;
  /** The current worker has exited and no replacement runs yet: batches are dropped and counted. */
  private down = false;
  private droppedWhileDown = 0;
  private readonly log: Logger;

  private constructor(private readonly opts: AssemblyThreadOptions, private readonly hooks: AssemblyThreadHooks) {
    this.log = opts.logger.child('gateway');
  }

  static async start(opts: AssemblyThreadOptions, hooks: AssemblyThreadHooks): Promise<AssemblyThread> {
    const t = new AssemblyThread(opts, hooks);
    await t.spawn();
    return t;
  }

  agentConnected(link: number, hello: AgentHello): void {
    this.hellos.set(link, hello);
    this.post({ t: 'hello', link, hello, at: Date.now() });
  }

  /** An AgentMessage{batch} as received; copied, so the caller's buffer is free at once. */
  batch(link: number, frame: Uint8Array): void {
    if (this.down) {
      this.droppedWhileDown += frame.byteLength;
      return;
    }
    const copy = new Uint8Array(frame.byteLength);
    copy.set(frame);
    this.sentBytes += copy.byteLength;
    this.worker.postMessage({ t: 'batch', link, frame: copy, at: Date.now() } satisfies ToWorker, [copy.buffer]);
    if (!this.paused && this.backlogBytes() > this.opts.backlogBytes) {
      this.paused = true;
      this.log.warn('the assembly thread is behind; reading from agents paused until it catches up', { backlogBytes: this.backlogBytes() });
      this.hooks.backlog(true);
    }
  }

  agentDisconnected(link: number): void {
    this.hellos.delete(link);
    this.post({ t: 'gone', link, at: Date.now() });
  }

  tick(): void {
    this.post({ t: 'tick', at: Date.now() });
  }

  /** Whether assembled sessions come back to this thread (costly; only while someone listens). */
  setForward(on: boolean): void {
    if (on === this.forward) return;
    this.forward = on;
    this.post({ t: 'forward', on });
  }

  /** Batch bytes received and not assembled yet. */
  backlogBytes(): number {
    return this.sentBytes - this.last.processedBytes;
  }

  /** The worker's figures as of its last report (at most tens of ms old; exact after flush). */
  stats(): WorkerStats {
    return this.last;
  }

  /** Resolves once everything sent so far is assembled and the store has fsynced it. */
  flush(): Promise<void> {
    if (this.closing) return this.closing;
    if (this.down) return Promise.resolve();
    const id = ++this.nextFlush;
    return new Promise<void>((resolve) => {
      this.flushes.set(id, resolve);
      this.post({ t: 'flush', id });
    });
  }

  /** Assembles what is queued, ends open sessions (GATEWAY_SHUTDOWN), closes the store, stops the thread. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      if (this.down) return resolve();
      this.worker.once('exit', () => resolve());
      this.post({ t: 'close', at: Date.now() });
    });
    return this.closing;
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  private spawn(): Promise<void> {
    const data: AssemblyWorkerData = {
      assembler: this.opts.assembler,
      storeDir: this.opts.storeDir,
      logLevel: this.opts.logger.level,
      nice: this.opts.nice,
    };
    const worker = startWorker(data);
    this.worker = worker;
    return new Promise<void>((resolve, reject) => {
      let started = false;
      worker.on('message', (m: FromWorker) => {
        switch (m.t) {
          case 'ready':
            started = true;
            this.onStats(m.stats);
            if (m.stats.nice !== undefined) this.log.debug('assembly thread started', { nice: m.stats.nice });
            resolve();
            break;
          case 'failed':
            reject(new KoalaError(m.code as KoalaErrorCode, m.message));
            break;
          case 'log':
            this.opts.logger.writeFormatted(m.line);
            break;
          case 'progress':
            this.onStats(m.stats);
            break;
          case 'sessions':
            this.onStats(m.stats);
            for (const s of m.sessions) this.hooks.session(reviveBuffers(s));
            break;
          case 'malformed':
            this.hooks.malformed(m.link, m.message);
            break;
          case 'flushed':
            this.onStats(m.stats);
            this.flushes.get(m.id)?.();
            this.flushes.delete(m.id);
            break;
          case 'closed':
            this.onStats(m.stats);
            break;
        }
      });
      worker.on('error', (err) => {
        if (!started) reject(new KoalaError('KOALA_ERR_INTERNAL', `the assembly thread failed to start: ${err.message}`, { cause: err }));
        else this.log.error('the assembly thread failed', { err, stack: err.stack });
      });
      worker.on('exit', (code) => {
        if (worker !== this.worker) return;
        this.down = true;
        if (started && this.closing === undefined) this.restart(code);
      });
    });
  }

  /**
   * A dead worker loses what it held (its open sessions and queued batches; logged with their
   * size) and its counters start again from zero; recording goes on with a new one.
   */
  private restart(code: number): void {
    const lost = this.backlogBytes();
    this.restarts++;
    this.log.error('the assembly thread exited; starting a new one (its open sessions and queued batches are lost)', {
      code, lostBatchBytes: lost, restarts: this.restarts,
    });
    for (const resolve of this.flushes.values()) resolve();
    this.flushes.clear();
    this.sentBytes = 0;
    this.last = EMPTY_STATS;
    this.down = false;
    this.spawn().then(
      () => {
        if (this.droppedWhileDown > 0) this.log.error('batches received while no assembly thread ran were dropped', { bytes: this.droppedWhileDown });
        this.droppedWhileDown = 0;
      },
      (err: unknown) => {
        // Until a worker runs again, batches are dropped and counted (droppedWhileDown).
        this.log.error('the assembly thread could not be restarted; retrying in 5 s', { err });
        this.down = true;
        setTimeout(() => {
          if (this.closing === undefined) this.restart(0);
        }, 5000).unref();
      },
    );
    // Queued ahead of any batch the new worker will see.
    if (this.forward) this.post({ t: 'forward', on: true });
    for (const [link, hello] of this.hellos) this.post({ t: 'hello', link, hello, at: Date.now() });
  }

  private onStats(s: WorkerStats): void {
    this.last = s;
    if (this.paused && this.backlogBytes() <= this.opts.backlogBytes / 2) {
      this.paused = false;
      this.log.info('the assembly thread caught up; reading from agents again', { backlogBytes: this.backlogBytes() });
      this.hooks.backlog(false);
    }
  }
}
