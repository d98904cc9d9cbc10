/**
 * The assembler and the store together: what turns agent events into stored sessions. The
 * gateway runs one either on its own thread (record mode, see assembly-thread.ts) or inline
 * (record+replay, where the replay router needs the same events on the main thread).
 */
import { SessionAssembler, type AssemblerOptions, type AssemblerStats } from '../assembler/session-assembler.js';
import { AgentMessage, type AgentHello, type Event } from '../generated/koala/v1/agent.pb.js';
import { forEachBatchEvent, plainBatchHeader, type BatchProgress } from '../ingest/batch-decoder.js';
import type { Session } from '../generated/koala/v1/session.pb.js';
import type { Logger } from '../log/logger.js';
import { JsonlSessionStore, type SessionStore } from '../store/jsonl-session-store.js';

export interface AssemblyCoreOptions {
  assembler: Pick<AssemblerOptions, 'idleAfterResponseMs' | 'bypassAddrs' | 'maxPayloadBytes'>;
  /** Undefined: sessions are only emitted, not stored. */
  storeDir: string | undefined;
  logger: Logger;
  /** ms clock the assembler's timeouts run on. */
  now?: () => number;
}

export interface AssemblyStats {
  assembler: AssemblerStats;
  /** Events received from agents (applied or not). */
  events: number;
  storeErrors: number;
  storePath: string | undefined;
}

export const EMPTY_ASSEMBLY_STATS: AssemblyStats = {
  assembler: {
    processes: 0, openSessions: 0, sessionsEmitted: 0, eventsApplied: 0, droppedEventsReported: 0, unattributedTalks: 0,
    unattributedInboundBytes: 0, lateResponseBytes: 0, seqGapEvents: 0, unknownConns: 0, bypassedEvents: 0, rejectedEvents: 0, warnings: 0,
  },
  events: 0,
  storeErrors: 0,
  storePath: undefined,
};

/**
 * A batch frame's events, for a link that cannot take them (no hello): counted, never applied.
 * Rare, so the generated decoder counts them.
 */
function countBatchEvents(frame: Uint8Array): number {
  try {
    const body = AgentMessage.decode(frame).body;
    return body?.$case === 'batch' ? body.value.events.length : 0;
  } catch {
    return 0;
  }
}

/** Lost events are logged at most this often (the first loss at once), summed in between. */
const LOSS_LOG_MS = 60_000;

export class AssemblyCore {
  private store: SessionStore | undefined;
  private events = 0;
  private storeErrors = 0;
  private readonly log: Logger;
  private readonly assembler: SessionAssembler;
  private readonly now: () => number;
  private lossLogged = { events: 0, atMs: -Infinity };

  /** onSession sees each session before the store does and may annotate it. */
  private constructor(opts: AssemblyCoreOptions, onSession: (s: Session) => void) {
    this.log = opts.logger.child('gateway');
    this.now = opts.now ?? Date.now;
    const assemblerLog = opts.logger.child('assembler');
    this.assembler = new SessionAssembler({ ...opts.assembler, now: opts.now }, (s) => {
      // First: the gateway marks a re-recorded replay (replay_of) before the line is written.
      onSession(s);
      this.log.debug('session', () => ({ id: s.id, sut: s.sut, talks: s.talks.length, end: s.endReason }));
      this.store?.append(s);
    });
    this.assembler.onWarning = (message, detail) => assemblerLog.warn(message, detail);
  }

  static async open(opts: AssemblyCoreOptions, onSession: (s: Session) => void): Promise<AssemblyCore> {
    const core = new AssemblyCore(opts, onSession);
    if (opts.storeDir !== undefined) {
      // The store never throws from append: write failures arrive here, so they are counted and logged.
      core.store = await JsonlSessionStore.open(opts.storeDir, {
        onError: (err) => {
          core.storeErrors++;
          core.log.error('writing the session store failed', { err });
        },
      });
    }
    return core;
  }

  agentConnected(linkId: number, hello: AgentHello): void {
    this.safely('agentConnected', () => this.assembler.agentConnected(linkId, hello));
  }

  ingest(linkId: number, events: Event[]): void {
    this.events += events.length;
    this.safely('ingest', () => this.assembler.ingest(linkId, events));
  }

  /**
   * An AgentMessage{batch} as it came off the wire, decoded as it is applied (one pass, no decoded
   * batch alive at once). Where the hand decoder meets something it does not take, the generated
   * decoder reads the frame and the events after those applied are applied from it; where that
   * refuses the frame, the events whole before the damage stay applied and the frame is reported.
   * Returns the number of events, or what is wrong with the frame.
   */
  ingestBatchFrame(linkId: number, frame: Uint8Array): number | string {
    if (!plainBatchHeader(frame)) return this.ingestGenerated(linkId, frame, 0);
    // Stays complete where nothing was read: a link with no hello (it counted the frame), or a
    // failure that safely() logged (applying again what was applied would duplicate it).
    let progress: BatchProgress = { applied: 0, complete: true };
    let taken = 0;
    this.safely('ingest', () => {
      taken = this.assembler.ingestFrom(linkId, () => countBatchEvents(frame), (apply) => {
        progress = forEachBatchEvent(frame, apply);
      });
    });
    this.events += taken;
    if (progress.complete) return taken;
    return this.ingestGenerated(linkId, frame, progress.applied);
  }

  /** The generated decoder's verdict on a batch frame whose first `applied` events are applied already. */
  private ingestGenerated(linkId: number, frame: Uint8Array, applied: number): number | string {
    let msg: AgentMessage;
    try {
      msg = AgentMessage.decode(frame);
    } catch (err) {
      const kept = applied > 0 ? ` (the ${applied} events before the damage were applied)` : '';
      return `batch of ${frame.byteLength} bytes does not decode: ${(err as Error).message}${kept}`;
    }
    if (msg.body?.$case !== 'batch') return 'a message that began as a batch decoded as something else';
    const events = msg.body.value.events;
    const rest = applied > 0 ? events.slice(applied) : events;
    if (rest.length > 0) this.ingest(linkId, rest);
    return events.length;
  }

  agentDisconnected(linkId: number): void {
    this.safely('agentDisconnected', () => this.assembler.agentDisconnected(linkId));
  }

  tick(): void {
    this.safely('tick', () => this.assembler.tick());
    this.logLoss();
  }

  /**
   * Events the agents reported dropped or that never arrived (sequence gaps), in one line a
   * minute at most: under sustained load a recording that gives way loses events by the
   * thousand, and an operator must see that it does without a line per batch.
   */
  private logLoss(): void {
    const a = this.assembler.stats();
    const lost = a.droppedEventsReported + a.seqGapEvents;
    const now = this.now();
    if (lost <= this.lossLogged.events || now - this.lossLogged.atMs < LOSS_LOG_MS) return;
    this.log.warn('agents lost events: sessions open meanwhile are marked incomplete', {
      events: lost - this.lossLogged.events,
      total: lost,
      hint: 'agents drop when the gateway is absent or does not keep up; KOALA_RECORD_NICE=0 gives it CPU at the SUT\'s expense',
    });
    this.lossLogged = { events: lost, atMs: now };
  }

  stats(): AssemblyStats {
    return { assembler: this.assembler.stats(), events: this.events, storeErrors: this.storeErrors, storePath: this.store?.path };
  }

  /** Session bytes the store holds, not yet written. */
  get storeQueuedBytes(): number {
    return this.store?.queuedBytes ?? 0;
  }

  /** Resolves once the store holds at most `bytes` unwritten. */
  async storeDrained(bytes: number): Promise<void> {
    await this.store?.drained(bytes);
  }

  /** Writes what the store holds to disk (fsync). */
  async flush(): Promise<void> {
    await this.store?.flush();
  }

  /** Ends every open session (GATEWAY_SHUTDOWN), then flushes and closes the store. */
  async close(): Promise<void> {
    this.safely('flush', () => this.assembler.flush());
    if (this.store === undefined) return;
    try {
      await this.store.close();
    } catch (err) {
      this.log.error('closing the session store failed', { err });
    }
  }

  /** The assembler is pure code; a bug in it must cost a session, not the gateway. */
  private safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error(`assembler ${what} failed`, { err, stack: err instanceof Error ? err.stack : undefined });
    }
  }
}
