/**
 * The gateway process's wiring: both ingest transports feed one assembly (assembler + store; on
 * its own low-priority thread in record mode), whose sessions go to the store (when a store
 * directory is configured), to 'session' listeners and to the koala:session diagnostics channel.
 * Owns the lifecycle: start, flush, close.
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../config/load-config.js';
import type { KoalaConfig, KoalaMode } from '../config/options.js';
import { Mode, type AgentConfig, type Event } from '../generated/koala/v1/agent.pb.js';
import type { Session } from '../generated/koala/v1/session.pb.js';
import type { AgentLink, AgentSink } from '../ingest/agent-sink.js';
import { GrpcAgentServer } from '../ingest/grpc-agent-server.js';
import { ShimListener } from '../ingest/shim-listener.js';
import { channels, publish } from '../log/channels.js';
import { Logger } from '../log/logger.js';
import { formatHostPort, parseHostPort } from '../config/option-parsers.js';
import { KoalaError } from '../errors.js';
import { ReplayEngine, type ReplayOptions, type SessionResult } from '../replay/replay-engine.js';
import { withNoise, type NoiseRules } from '../replay/verdict/noise-rules.js';
import { AssemblyCore, EMPTY_ASSEMBLY_STATS, type AssemblyStats } from './assembly-core.js';
import { AssemblyThread } from './assembly-thread.js';
import { SpoolWriter, type SpoolStats } from '../spool/spool-writer.js';
import { ReplayApi } from './replay-api.js';
import { ReplayRouter } from './replay-router.js';

/** Replay settings that are not gateway-wide options (the option table holds the rest). */
export interface GatewayReplayOptions {
  /** No recorded talk for an outbound request: close the connection (default) or answer an error. */
  onNoMatch?: 'close' | 'error';
  /** Bound on waiting for an agent's CONNECT report (default 2 s). */
  reportWaitMs?: number;
  /** After the response, how long late outbound calls still count (default 50 ms). */
  settleMs?: number;
  firstByteTimeoutMs?: number;
  totalTimeoutMs?: number;
  /** Added to the default noise rules (docs/replay.md, "Verdict and noise"). */
  noise?: Partial<NoiseRules>;
  /** Serve the replay API (POST /replay, POST /json) on inboundAddr; default true. */
  api?: boolean;
}

export type GatewayOptions = Partial<KoalaConfig> & {
  /** Use this logger instead of one built from logLevel/logFile. */
  logger?: Logger;
  replay?: GatewayReplayOptions;
};

export interface GatewayStats {
  /** Agents connected now, by transport. */
  links: { unix: number; grpc: number };
  linksTotal: number;
  sessions: number;
  openSessions: number;
  events: number;
  /** Events lost on the way from the agents: reported in DROP_REPORTs plus missing by seq number. */
  droppedEvents: number;
  /** Frames that were oversized or did not decode (each dropped its connection). */
  badFrames: number;
  storeErrors: number;
  /**
   * Received batch bytes the assembly thread has not reached yet (0 when assembling inline).
   * Figures from the thread are at most tens of ms old; exact after flush().
   */
  backlogBytes: number;
  /** With --assembler spool: what was spooled (nothing is assembled while recording). */
  spool?: SpoolStats;
}

const MODE_BITS: Record<KoalaMode, Mode> = {
  record: Mode.MODE_RECORD,
  replay: Mode.MODE_REPLAY,
  'record+replay': Mode.MODE_RECORD_AND_REPLAY,
};

const TICK_MS = 250;

export interface Gateway {
  on(event: 'session', listener: (session: Session) => void): this;
  once(event: 'session', listener: (session: Session) => void): this;
  off(event: 'session', listener: (session: Session) => void): this;
}

export class Gateway extends EventEmitter {
  readonly id = randomUUID();
  readonly config: KoalaConfig;
  private readonly log: Logger;
  private readonly ownsLogger: boolean;
  /** Exactly one of these takes what agents send: the thread in record mode (unless configured inline or spool), else inline. */
  private core: AssemblyCore | undefined;
  private thread: AssemblyThread | undefined;
  private spool: SpoolWriter | undefined;
  private spoolPaused = false;
  private spoolErrors = 0;
  private readonly shim: ShimListener;
  private readonly grpcServer: GrpcAgentServer;
  private timer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private accepting = true;
  private readonly links = new Map<number, AgentLink>();
  private readonly counters = { linksTotal: 0 };
  private readonly recording: boolean;
  private readonly assembleOnThread: boolean;
  private readonly spooling: boolean;
  private readonly replayEngine: ReplayEngine | undefined;
  private readonly router: ReplayRouter | undefined;
  private api: ReplayApi | undefined;
  private outboundBound: AddressInfo | undefined;
  /** record+replay: driver port → the replayed session id, until the re-recording arrives. */
  private readonly replayedPorts = new Map<number, { sessionId: string; atMs: number }>();

  private constructor(config: KoalaConfig, logger: Logger, ownsLogger: boolean, private readonly replayOpts: GatewayReplayOptions = {}) {
    super();
    this.config = config;
    this.log = logger.child('gateway');
    this.ownsLogger = ownsLogger;
    this.recording = config.mode !== 'replay';
    this.assembleOnThread = config.mode === 'record' && config.assembler === 'thread';
    this.spooling = config.mode === 'record' && config.assembler === 'spool';
    if (config.assembler === 'spool' && config.mode !== 'record') {
      throw new KoalaError('KOALA_ERR_CONFIG', `assembler spool (KOALA_ASSEMBLER / --assembler) needs mode record, not ${config.mode}: replay needs sessions as they happen`);
    }
    if (this.spooling && config.storeDir === undefined) {
      throw new KoalaError('KOALA_ERR_CONFIG', 'assembler spool (KOALA_ASSEMBLER / --assembler) needs a store directory (KOALA_STORE_DIR / --store) to spool into');
    }
    if (config.mode !== 'record') {
      this.replayEngine = new ReplayEngine({
        sut: parseHostPort(config.sutAddr),
        outbound: parseHostPort(config.outboundAddr),
        match: { strategy: config.matchStrategy, simThreshold: config.matchThreshold },
        onNoMatch: replayOpts.onNoMatch,
        idleMs: config.inboundReadTimeoutMs,
        reportWaitMs: replayOpts.reportWaitMs,
        settleMs: replayOpts.settleMs,
        firstByteTimeoutMs: replayOpts.firstByteTimeoutMs,
        totalTimeoutMs: replayOpts.totalTimeoutMs,
        noise: replayOpts.noise === undefined ? undefined : withNoise(replayOpts.noise),
        onInboundRegistered: this.recording ? (port, id) => this.replayedPorts.set(port, { sessionId: id, atMs: Date.now() }) : undefined,
      });
      this.router = new ReplayRouter(this.replayEngine);
    }
    const sink = this.sink();
    this.shim = new ShimListener({ path: config.agentSocket, sink, maxFrameBytes: config.maxFrameBytes, logger });
    this.grpcServer = new GrpcAgentServer({ address: config.agentGrpcAddr, sink, maxFrameBytes: config.maxFrameBytes, logger });
  }

  static async start(opts: GatewayOptions = {}): Promise<Gateway> {
    const { logger: given, replay, ...rest } = opts;
    const config = loadConfig({ env: {}, overrides: rest });
    const logger = given ?? Logger.create({ level: config.logLevel, file: config.logFile });
    const gw = new Gateway(config, logger, given === undefined, replay);
    try {
      await gw.startAssembly(logger);
      if (gw.replayEngine !== undefined) {
        gw.outboundBound = await gw.replayEngine.start();
        if (replay?.api !== false) {
          gw.api = new ReplayApi(gw, logger.child('replay-api'));
          await gw.api.listen(parseHostPort(config.inboundAddr));
        }
      }
      await gw.shim.listen();
      await gw.grpcServer.listen();
    } catch (err) {
      await gw.shutdownParts();
      throw err;
    }
    gw.timer = setInterval(() => gw.tick(), TICK_MS);
    gw.timer.unref();
    gw.log.info('gateway started', {
      mode: config.mode, store: config.storeDir, agentSocket: gw.agentSocket, grpc: gw.agentGrpcAddr,
      outbound: gw.outboundAddr, inbound: gw.inboundAddr,
    });
    return gw;
  }

  get agentSocket(): string {
    return this.shim.path;
  }

  /** host:port actually bound (the real port when port 0 was asked), or the unix:/// target. */
  get agentGrpcAddr(): string {
    return this.grpcServer.address;
  }

  /** Replay: the outbound mock's address actually bound (the agents' KOALA_OUTBOUND_ADDR). */
  get outboundAddr(): string | undefined {
    const a = this.outboundBound;
    return a === undefined ? undefined : formatHostPort({ host: a.address, port: a.port });
  }

  /** Replay: the replay API's address actually bound (undefined when not served). */
  get inboundAddr(): string | undefined {
    return this.api?.address;
  }

  get replaying(): boolean {
    return this.replayEngine !== undefined;
  }

  /**
   * Replays one recorded session against the SUT (opts.sut, else sutAddr) and resolves with its
   * verdict. Many may run at once. The SUT must run under an agent connected to this gateway in
   * replay mode, with KOALA_OUTBOUND_ADDR = outboundAddr.
   */
  replaySession(session: Session, opts: ReplayOptions = {}): Promise<SessionResult> {
    if (this.replayEngine === undefined) {
      return Promise.reject(new KoalaError('KOALA_ERR_REPLAY', `the gateway runs in ${this.config.mode} mode; replay needs mode replay or record+replay`));
    }
    if (!this.accepting) return Promise.reject(new KoalaError('KOALA_ERR_REPLAY', 'the gateway is closing'));
    return this.replayEngine.replaySession(session, opts);
  }

  /**
   * Sessions whose preludes and talks answer connections the SUT opens outside any session
   * (start-up pools, e.g. a MySQL greeting). Call before the SUT starts.
   */
  preload(sessions: readonly Session[]): void {
    this.replayEngine?.preload(sessions);
  }

  /** SUT names of the agents connected now (koala replay --wait-agent). */
  agentNames(): string[] {
    return [...this.links.values()].map((l) => l.hello.sutName);
  }

  /** The sessions file written now, or with --assembler spool the spool file. */
  get storePath(): string | undefined {
    return this.spool?.path ?? this.assemblyStats().storePath;
  }

  stats(): GatewayStats {
    const s = this.assemblyStats();
    const a = s.assembler;
    const unix = this.shim.stats();
    const grpc = this.grpcServer.stats();
    return {
      links: { unix: unix.connections, grpc: grpc.connections },
      linksTotal: this.counters.linksTotal,
      sessions: a.sessionsEmitted,
      openSessions: a.openSessions,
      events: s.events,
      droppedEvents: a.droppedEventsReported + a.seqGapEvents,
      badFrames: unix.badFrames + grpc.badFrames,
      storeErrors: s.storeErrors + this.spoolErrors,
      backlogBytes: this.thread?.backlogBytes() ?? this.spool?.queuedBytes ?? 0,
      ...(this.spool === undefined ? {} : { spool: this.spool.stats() }),
    };
  }

  /** Assembles everything received so far (see backlogBytes) and writes what the store holds to disk (fsync). */
  async flush(): Promise<void> {
    await (this.spool ?? this.thread ?? this.core)?.flush();
  }

  /** Ends open sessions (GATEWAY_SHUTDOWN), flushes and closes the store, closes the listeners. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.accepting = false;
    if (this.timer) clearInterval(this.timer);
    await this.shutdownParts();
    this.log.info('gateway closed', () => {
      const s = this.assemblyStats();
      const spool = this.spool?.stats();
      return { sessions: s.assembler.sessionsEmitted, events: s.events, ...(spool && { spooledBatches: spool.batches, spooledBytes: spool.bytes, spoolFiles: spool.files }) };
    });
    if (this.ownsLogger) this.log.close();
  }

  private async shutdownParts(): Promise<void> {
    await Promise.allSettled([this.shim.close(), this.grpcServer.close(), this.api?.close(), this.replayEngine?.close()]);
    // After the listeners: every batch received is assembled, then open sessions end (GATEWAY_SHUTDOWN).
    await (this.spool ?? this.thread ?? this.core)?.close();
  }

  private async startAssembly(logger: Logger): Promise<void> {
    if (!this.recording) return;
    const config = this.config;
    if (this.spooling) {
      this.spool = await SpoolWriter.open(config.storeDir as string, {
        onError: (err) => {
          this.spoolErrors++;
          this.log.error('writing the spool failed; what it could not write is lost and counted', { err });
        },
      });
      return;
    }
    const assembler = { idleAfterResponseMs: config.sessionIdleMs, bypassAddrs: config.outboundBypassAddrs, maxPayloadBytes: config.maxPayloadBytes };
    if (this.assembleOnThread) {
      this.thread = await AssemblyThread.start(
        { assembler, storeDir: config.storeDir, logger, nice: config.recordNice, backlogBytes: config.assemblerBacklogBytes },
        {
          session: (s) => this.onSession(s),
          // The transport ends the link and counts a bad frame, as for one found here.
          malformed: (linkId, message) => this.links.get(linkId)?.abort(new KoalaError('KOALA_ERR_FRAME_MALFORMED', message)),
          backlog: (paused) => {
            this.shim.setPaused(paused);
            this.grpcServer.setPaused(paused);
          },
        },
      );
      this.updateForwarding();
      // 'newListener' fires before the listener is added.
      const emitter: EventEmitter = this;
      emitter.on('newListener', (name: string | symbol) => {
        if (name === 'session') queueMicrotask(() => this.updateForwarding());
      });
      emitter.on('removeListener', (name: string | symbol) => {
        if (name === 'session') this.updateForwarding();
      });
    } else {
      this.core = await AssemblyCore.open({ assembler, storeDir: config.storeDir, logger }, (s) => this.onSession(s));
    }
  }

  /** Sessions cross back from the assembly thread only while something here would see them. */
  private updateForwarding(): void {
    this.thread?.setForward(this.listenerCount('session') > 0 || channels.session.hasSubscribers);
  }

  private assemblyStats(): AssemblyStats {
    return this.thread?.stats() ?? this.core?.stats() ?? EMPTY_ASSEMBLY_STATS;
  }

  private tick(): void {
    this.spool?.tick(Date.now());
    this.core?.tick();
    if (this.thread !== undefined) {
      this.thread.tick();
      this.updateForwarding();
    }
    // A replayed session that was never re-recorded (replay-only agents, a SUT that died).
    const old = Date.now() - 10 * 60_000;
    for (const [port, r] of this.replayedPorts) if (r.atMs < old) this.replayedPorts.delete(port);
  }

  /** Replay routing is pure code; a bug in it must cost a session, not the gateway. */
  private safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error(`${what} failed`, { err, stack: err instanceof Error ? err.stack : undefined });
    }
  }

  private sink(): AgentSink {
    return {
      agentConnected: (link: AgentLink): AgentConfig => {
        this.counters.linksTotal++;
        this.log.info('agent connected', () => ({
          link: link.linkId, transport: link.transport, sut: link.hello.sutName, pid: link.hello.pid, kind: link.hello.kind,
        }));
        this.links.set(link.linkId, link);
        if (this.accepting) {
          this.core?.agentConnected(link.linkId, link.hello);
          this.thread?.agentConnected(link.linkId, link.hello);
          this.spool?.hello(link.linkId, link.hello, Date.now());
        }
        if (this.accepting) this.safely('replay agentConnected', () => this.router?.agentConnected(link.linkId, link.hello));
        return {
          mode: MODE_BITS[this.config.mode],
          outboundAddr: this.outboundAddr ?? this.config.outboundAddr,
          bypassAddrs: this.config.outboundBypassAddrs,
          maxPayload: 0,
          gatewayId: this.id,
        };
      },
      agentEvents: (link: AgentLink, events: Event[]) => {
        if (!this.accepting) return;
        this.log.trace('events', () => ({ link: link.linkId, n: events.length }));
        // Replay first: the mapping must be known before the mock needs it.
        if (this.router !== undefined) this.safely('replay routing', () => this.router?.ingest(link.linkId, events));
        this.core?.ingest(link.linkId, events);
      },
      // Only with an assembly thread (batches are decoded there, not here) or a spool (they are not decoded while recording).
      agentBatchFrame: this.spooling
        ? (link: AgentLink, frame: Uint8Array) => {
            if (this.accepting) this.spoolBatch(link.linkId, frame);
          }
        : !this.assembleOnThread
          ? undefined
          : (link: AgentLink, frame: Uint8Array) => {
              if (this.accepting) this.thread?.batch(link.linkId, frame);
            },
      agentDisconnected: (link: AgentLink, reason: string) => {
        this.log.info('agent disconnected', { link: link.linkId, pid: link.hello.pid, reason });
        this.links.delete(link.linkId);
        this.router?.agentDisconnected(link.linkId);
        if (this.accepting) {
          this.core?.agentDisconnected(link.linkId);
          this.thread?.agentDisconnected(link.linkId);
          this.spool?.gone(link.linkId, Date.now());
        }
      },
    };
  }

  /**
   * Past assemblerBacklogBytes not yet on disk the gateway stops reading from agents, whose own
   * bounded buffers then drop and count, until the disk has taken half of it.
   */
  private spoolBatch(linkId: number, frame: Uint8Array): void {
    const spool = this.spool as SpoolWriter;
    spool.batch(linkId, frame, Date.now());
    const limit = this.config.assemblerBacklogBytes;
    if (this.spoolPaused || spool.queuedBytes <= limit) return;
    this.spoolPaused = true;
    this.log.warn('the disk is behind the spool; reading from agents paused until it catches up', { queuedBytes: spool.queuedBytes });
    this.shim.setPaused(true);
    this.grpcServer.setPaused(true);
    void spool.drained(limit / 2).then(() => {
      this.spoolPaused = false;
      this.log.info('the spool caught up; reading from agents again', { queuedBytes: spool.queuedBytes });
      this.shim.setPaused(false);
      this.grpcServer.setPaused(false);
    });
  }

  private onSession(session: Session): void {
    const port = session.inbound?.peer?.port;
    const replayed = port === undefined ? undefined : this.replayedPorts.get(port);
    if (replayed !== undefined && port !== undefined) {
      session.replayOf = replayed.sessionId;
      this.replayedPorts.delete(port);
    }
    publish(channels.session, { session });
    try {
      this.emit('session', session);
    } catch (err) {
      this.log.error("a 'session' listener threw", { err });
    }
  }
}
