/**
 * The gateway process's wiring: both ingest transports feed one SessionAssembler, whose sessions
 * go to the store (when a store directory is configured), to 'session' listeners and to the
 * koala:session diagnostics channel. Owns the lifecycle: start, flush, close.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { SessionAssembler } from '../assembler/session-assembler.js';
import { loadConfig } from '../config/load-config.js';
import type { KoalaConfig, KoalaMode } from '../config/options.js';
import { Mode, type AgentConfig, type Event } from '../generated/koala/v1/agent.pb.js';
import type { Session } from '../generated/koala/v1/session.pb.js';
import type { AgentLink, AgentSink } from '../ingest/agent-sink.js';
import { GrpcAgentServer } from '../ingest/grpc-agent-server.js';
import { ShimListener } from '../ingest/shim-listener.js';
import { channels, publish } from '../log/channels.js';
import { Logger } from '../log/logger.js';
import { JsonlSessionStore, type SessionStore } from '../store/jsonl-session-store.js';

export type GatewayOptions = Partial<KoalaConfig> & {
  /** Use this logger instead of one built from logLevel/logFile. */
  logger?: Logger;
};

export interface GatewayStats {
  /** Agents connected now, by transport. */
  links: { unix: number; grpc: number };
  linksTotal: number;
  sessions: number;
  openSessions: number;
  events: number;
  /** Events the agents reported dropped (DROP_REPORT and seq gaps). */
  droppedEvents: number;
  /** Frames that were oversized or did not decode (each dropped its connection). */
  badFrames: number;
  storeErrors: number;
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
  private readonly assembler: SessionAssembler;
  private readonly shim: ShimListener;
  private readonly grpcServer: GrpcAgentServer;
  private store: SessionStore | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private accepting = true;
  private readonly counters = { linksTotal: 0, sessions: 0, events: 0, storeErrors: 0 };

  private constructor(config: KoalaConfig, logger: Logger, ownsLogger: boolean) {
    super();
    this.config = config;
    this.log = logger.child('gateway');
    this.ownsLogger = ownsLogger;
    const assemblerLog = logger.child('assembler');
    this.assembler = new SessionAssembler(
      {
        idleAfterResponseMs: config.sessionIdleMs,
        bypassAddrs: config.outboundBypassAddrs,
        maxPayloadBytes: config.maxPayloadBytes,
      },
      (s) => this.onSession(s),
    );
    this.assembler.onWarning = (message, detail) => assemblerLog.warn(message, detail);
    const sink = this.sink();
    this.shim = new ShimListener({ path: config.agentSocket, sink, maxFrameBytes: config.maxFrameBytes, logger });
    this.grpcServer = new GrpcAgentServer({ address: config.agentGrpcAddr, sink, maxFrameBytes: config.maxFrameBytes, logger });
  }

  static async start(opts: GatewayOptions = {}): Promise<Gateway> {
    const { logger: given, ...rest } = opts;
    const config = loadConfig({ env: {}, overrides: rest });
    const logger = given ?? Logger.create({ level: config.logLevel, file: config.logFile });
    const gw = new Gateway(config, logger, given === undefined);
    try {
      if (config.storeDir !== undefined) gw.store = await JsonlSessionStore.open(config.storeDir);
      await gw.shim.listen();
      await gw.grpcServer.listen();
    } catch (err) {
      await gw.shutdownParts();
      throw err;
    }
    gw.timer = setInterval(() => gw.tick(), TICK_MS);
    gw.timer.unref();
    if (config.mode !== 'record') gw.log.warn('replay is not implemented yet: recording side only', { mode: config.mode });
    gw.log.info('gateway started', { mode: config.mode, store: config.storeDir, agentSocket: gw.agentSocket, grpc: gw.agentGrpcAddr });
    return gw;
  }

  get agentSocket(): string {
    return this.shim.path;
  }

  /** host:port actually bound (the real port when port 0 was asked). */
  get agentGrpcAddr(): string {
    return this.grpcServer.address;
  }

  get storePath(): string | undefined {
    return this.store?.path;
  }

  stats(): GatewayStats {
    const a = this.assembler.stats();
    const unix = this.shim.stats();
    const grpc = this.grpcServer.stats();
    return {
      links: { unix: unix.connections, grpc: grpc.connections },
      linksTotal: this.counters.linksTotal,
      sessions: this.counters.sessions,
      openSessions: a.openSessions,
      events: this.counters.events,
      droppedEvents: a.droppedEventsReported,
      badFrames: unix.badFrames + grpc.badFrames,
      storeErrors: this.counters.storeErrors,
    };
  }

  /** Writes what the store holds to disk (fsync). */
  async flush(): Promise<void> {
    await this.store?.flush();
  }

  /** Ends open sessions (GATEWAY_SHUTDOWN), flushes and closes the store, closes the listeners. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.accepting = false;
    if (this.timer) clearInterval(this.timer);
    this.safely('flush', () => this.assembler.flush());
    await this.shutdownParts();
    this.log.info('gateway closed', () => ({ sessions: this.counters.sessions, events: this.counters.events }));
    if (this.ownsLogger) this.log.close();
  }

  private async shutdownParts(): Promise<void> {
    await Promise.allSettled([this.shim.close(), this.grpcServer.close()]);
    if (this.store) {
      try {
        await this.store.close();
      } catch (err) {
        this.log.error('closing the session store failed', { err });
      }
    }
  }

  private tick(): void {
    this.safely('tick', () => this.assembler.tick());
  }

  /** The assembler is pure code; a bug in it must cost a session, not the gateway. */
  private safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error(`assembler ${what} failed`, { err, stack: err instanceof Error ? err.stack : undefined });
    }
  }

  private sink(): AgentSink {
    return {
      agentConnected: (link: AgentLink): AgentConfig => {
        this.counters.linksTotal++;
        this.log.info('agent connected', () => ({
          link: link.linkId, transport: link.transport, sut: link.hello.sutName, pid: link.hello.pid, kind: link.hello.kind,
        }));
        if (this.accepting) this.safely('agentConnected', () => this.assembler.agentConnected(link.linkId, link.hello));
        return {
          mode: MODE_BITS[this.config.mode],
          outboundAddr: this.config.outboundAddr,
          bypassAddrs: this.config.outboundBypassAddrs,
          maxPayload: 0,
          gatewayId: this.id,
        };
      },
      agentEvents: (link: AgentLink, events: Event[]) => {
        if (!this.accepting) return;
        this.counters.events += events.length;
        this.log.trace('events', () => ({ link: link.linkId, n: events.length }));
        this.safely('ingest', () => this.assembler.ingest(link.linkId, events));
      },
      agentDisconnected: (link: AgentLink, reason: string) => {
        this.log.info('agent disconnected', { link: link.linkId, pid: link.hello.pid, reason });
        if (this.accepting) this.safely('agentDisconnected', () => this.assembler.agentDisconnected(link.linkId));
      },
    };
  }

  private onSession(session: Session): void {
    this.counters.sessions++;
    this.log.debug('session', () => ({ id: session.id, sut: session.sut, talks: session.talks.length, end: session.endReason }));
    if (this.store) {
      try {
        this.store.append(session);
      } catch (err) {
        this.counters.storeErrors++;
        this.log.error('storing a session failed', { id: session.id, err });
      }
    }
    publish(channels.session, { session });
    try {
      this.emit('session', session);
    } catch (err) {
      this.log.error("a 'session' listener threw", { err });
    }
  }
}
