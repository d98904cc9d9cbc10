import { AddressFamily, EventKind, SocketType, type Address, type AgentHello, type Event } from '../generated/koala/v1/agent.pb.js';
import { SessionEndReason, Transport, type Session } from '../generated/koala/v1/session.pb.js';
import { formatAddress, formatIp } from './address-text.js';
import { isMysqlGreeting, MysqlHandshake } from './mysql-handshake.js';
import { OpenSession, type PreludeState } from './open-session.js';
import { SlotMap } from './slot-map.js';
import { TalkBuilder } from './talk-builder.js';

export interface AssemblerOptions {
  /** End a session this long after its response began with no activity on its thread (ms). */
  idleAfterResponseMs: number;
  /** Bypass list: "ip:port", "[ip6]:port" or ":port" strings; talks to these are dropped. */
  bypassAddrs: string[];
  /** Cap on stored bytes per payload (inbound request/response, talk request/response); beyond it
   *  bytes are dropped and counted in completeness.truncated_bytes. */
  maxPayloadBytes: number;
  /** Beyond this many talks the session ends with reason LIMIT. */
  maxTalksPerSession: number;
  /** How long a disconnected agent's sessions wait for it to reconnect before ending (AGENT_GONE). */
  agentGoneGraceMs: number;
  /** A cut deferred because an outbound talk awaits its response is forced after this long. */
  maxDeferMs: number;
  /** ms clock, for tests. */
  now?: () => number;
}

export interface AssemblerStats {
  processes: number;
  openSessions: number;
  sessionsEmitted: number;
  eventsApplied: number;
  droppedEventsReported: number;
  unattributedTalks: number;
  /** Inbound response bytes on a connection no open session reads from. */
  unattributedInboundBytes: number;
  /** Outbound response bytes that came after their session was cut. */
  lateResponseBytes: number;
  /** Events missing by sequence number. */
  seqGapEvents: number;
  /** Connections first seen without addresses (recorded as outbound, peer unknown). */
  unknownConns: number;
  /** Events on bypassed addresses, dropped. */
  bypassedEvents: number;
  /** Events from a link with no hello, or that failed to apply. */
  rejectedEvents: number;
  warnings: number;
}

const DEFAULTS: Required<Omit<AssemblerOptions, 'now'>> = {
  idleAfterResponseMs: 2000,
  bypassAddrs: [],
  maxPayloadBytes: 64 * 1024 * 1024,
  maxTalksPerSession: 10000,
  agentGoneGraceMs: 5000,
  maxDeferMs: 30000,
};

/** A prelude longer than this is not a handshake any more. */
const MAX_PRELUDE_TALKS = 64;
/** A deferred cut whose awaited response arrived waits this long for the rest of the response. */
const SETTLE_MS = 100;
/** Keys kept without a session (threads and connections whose end was never seen) before a sweep. */
const MAX_EMPTY_SLOTS = 4096;

interface ConnState {
  id: bigint;
  inbound: boolean;
  local: Address | undefined;
  peer: Address | undefined;
  transport: Transport;
  bypass: boolean;
  current: TalkBuilder | undefined;
  /** The session the current talk went to (or that met it in the prelude); undefined when unattributed. */
  currentSession: OpenSession | undefined;
  currentInPrelude: boolean;
  talksStarted: number;
  prelude: PreludeState | undefined;
  mysql: MysqlHandshake | undefined;
  warned: boolean;
}

interface ProcessState {
  hello: AgentHello;
  linkId: number | undefined;
  goneSinceMs: number | undefined;
  lastSeq: bigint;
  conns: SlotMap<bigint, ConnState>;
  /** ":port" / "unix:path" of addresses this process accepted on. */
  listenKeys: Set<string>;
  /** One open session per owner (virtual thread). */
  sessions: SlotMap<bigint, OpenSession>;
  byInboundConn: SlotMap<bigint, OpenSession>;
  /** Sessions whose end waits for an outbound response (few, so a list). */
  pending: OpenSession[];
}

/** Every session of p not yet ended, once each (a deferred one may have left p.sessions: its thread exited). */
function* openSessions(p: ProcessState): IterableIterator<OpenSession> {
  yield* p.sessions.values();
  for (const s of p.pending) if (p.sessions.get(s.owner) !== s) yield s;
}

/** The helper command that ends a virtual thread's session (flags = that thread, 0 = the sender). */
export const HELPER_THREAD_SHUTDOWN = 'to-koala!thread-shutdown';

/** The command of a HELPER event: its payload is "<command>\n<body>". */
export function helperCommand(payload: Buffer): string {
  const nl = payload.indexOf(0x0a);
  return payload.toString('latin1', 0, nl < 0 ? payload.length : nl);
}

/**
 * Turns each SUT process's event stream into sessions (docs/architecture.md "Assembler rules").
 * Pure and synchronous: the only outputs are the onSession callback, onWarning and stats().
 */
export class SessionAssembler {
  onWarning?: (message: string, detail?: Record<string, unknown>) => void;

  private readonly opts: Required<Omit<AssemblerOptions, 'now'>>;
  private readonly now: () => number;
  private readonly bypass: Set<string>;
  private readonly processes = new Map<string, ProcessState>();
  private readonly links = new Map<number, ProcessState>();
  private counter = 0;
  /** The session an outbound RECV just fed: a deferred cut waits while its response streams in. */
  private fedByRecv: OpenSession | undefined;
  private readonly counters = {
    sessionsEmitted: 0,
    eventsApplied: 0,
    droppedEventsReported: 0,
    unattributedTalks: 0,
    unattributedInboundBytes: 0,
    lateResponseBytes: 0,
    seqGapEvents: 0,
    unknownConns: 0,
    bypassedEvents: 0,
    rejectedEvents: 0,
    warnings: 0,
  };

  constructor(
    options: Partial<AssemblerOptions>,
    private readonly onSession: (s: Session) => void,
  ) {
    const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.opts = { ...DEFAULTS, ...defined } as Required<Omit<AssemblerOptions, 'now'>>;
    this.now = options.now ?? Date.now;
    this.bypass = new Set(this.opts.bypassAddrs.map((a) => a.trim()).filter((a) => a !== ''));
  }

  agentConnected(linkId: number, hello: AgentHello): void {
    const key = `${hello.hostname}\u0000${hello.pid}\u0000${hello.startNs}`;
    let p = this.processes.get(key);
    if (p) {
      if (p.linkId !== undefined && p.linkId !== linkId) this.links.delete(p.linkId);
      p.hello = hello;
      p.goneSinceMs = undefined;
    } else {
      p = {
        hello,
        linkId,
        goneSinceMs: undefined,
        lastSeq: 0n,
        conns: new SlotMap(),
        listenKeys: new Set(),
        sessions: new SlotMap(),
        byInboundConn: new SlotMap(),
        pending: [],
      };
      this.processes.set(key, p);
    }
    p.linkId = linkId;
    this.links.set(linkId, p);
  }

  ingest(linkId: number, events: Event[]): void {
    this.ingestFrom(linkId, () => events.length, (apply) => {
      for (const e of events) apply(e);
    });
  }

  /**
   * Applies events as `source` hands them over, one at a time: a batch can be decoded as it is
   * applied, so no more than one decoded event need be alive at once. Returns how many it took:
   * those applied, or, from a link with no hello, `count()` rejected (only then is it asked).
   */
  ingestFrom(linkId: number, count: () => number, source: (apply: (e: Event) => void) => void): number {
    const p = this.links.get(linkId);
    if (!p) {
      const n = count();
      this.counters.rejectedEvents += n;
      this.warn('events from a link with no hello dropped', { linkId, events: n });
      return n;
    }
    let taken = 0;
    source((e) => {
      taken++;
      try {
        this.apply(p, e);
        this.counters.eventsApplied++;
      } catch (err) {
        this.counters.rejectedEvents++;
        this.warn('event could not be applied', { pid: p.hello.pid, seq: e.seq.toString(), kind: e.kind, error: String(err) });
      }
    });
    return taken;
  }

  agentDisconnected(linkId: number): void {
    const p = this.links.get(linkId);
    this.links.delete(linkId);
    if (p && p.linkId === linkId) {
      p.linkId = undefined;
      p.goneSinceMs = this.now();
    }
  }

  tick(): void {
    const now = this.now();
    for (const [key, p] of this.processes) {
      if (p.goneSinceMs !== undefined && now - p.goneSinceMs >= this.opts.agentGoneGraceMs) {
        for (const s of [...openSessions(p)]) this.end(p, s, SessionEndReason.SESSION_END_REASON_AGENT_GONE);
        this.processes.delete(key);
        continue;
      }
      // Backwards: end() takes the session out of the list.
      for (let i = p.pending.length - 1; i >= 0; i--) {
        const s = p.pending[i]!;
        const forced = now - s.pendingSinceMs >= this.opts.maxDeferMs;
        if (forced || (!s.awaitingOutbound && now - s.lastActivityMs >= SETTLE_MS)) this.end(p, s, s.pendingEnd!);
      }
      for (const s of p.sessions.values()) {
        if (s.pendingEnd !== undefined || !s.responseBegun) continue;
        if (now - s.lastActivityMs >= this.opts.idleAfterResponseMs && !s.awaitingOutbound) {
          this.end(p, s, SessionEndReason.SESSION_END_REASON_IDLE);
        }
      }
      p.sessions.sweep(MAX_EMPTY_SLOTS);
      p.byInboundConn.sweep(MAX_EMPTY_SLOTS);
    }
  }

  flush(): void {
    for (const p of this.processes.values()) {
      for (const s of [...openSessions(p)]) this.end(p, s, SessionEndReason.SESSION_END_REASON_GATEWAY_SHUTDOWN);
    }
  }

  stats(): AssemblerStats {
    let openSessions = 0;
    for (const p of this.processes.values()) {
      openSessions += p.sessions.size;
      for (const s of p.pending) if (p.sessions.get(s.owner) !== s) openSessions++;
    }
    return { processes: this.processes.size, openSessions, ...this.counters };
  }

  // ---- one event ----

  private apply(p: ProcessState, e: Event): void {
    if (e.seq !== 0n) {
      if (p.lastSeq !== 0n) {
        // As numbers: bigint arithmetic allocates, on every event (sequences stay far below 2^53).
        const step = Number(e.seq) - Number(p.lastSeq);
        if (step > 1) this.seqGap(p, e.seq - p.lastSeq - 1n);
        else if (step <= 0) this.warn('event sequence went backwards', { pid: p.hello.pid, seq: e.seq.toString(), after: p.lastSeq.toString() });
      }
      p.lastSeq = e.seq;
    }
    const owner = e.vtid !== 0n ? e.vtid : e.tid;
    this.fedByRecv = undefined;
    switch (e.kind) {
      case EventKind.EVENT_KIND_ACCEPT:
        this.addConn(p, e, true, e.peer);
        for (const k of addressKeys(e.local)) p.listenKeys.add(k);
        break;
      case EventKind.EVENT_KIND_CONNECT:
        this.addConn(p, e, false, e.originalDst ?? e.peer);
        break;
      case EventKind.EVENT_KIND_SEND:
      case EventKind.EVENT_KIND_RECV:
        this.io(p, e, owner);
        break;
      case EventKind.EVENT_KIND_CLOSE:
        this.close(p, e);
        break;
      case EventKind.EVENT_KIND_THREAD_EXIT: {
        const s = p.sessions.get(e.tid);
        if (s) this.requestEnd(p, s, SessionEndReason.SESSION_END_REASON_THREAD_EXIT, e.tsNs);
        // Ended or waiting in p.pending: nothing finds it by its thread any more.
        p.sessions.remove(e.tid);
        break;
      }
      case EventKind.EVENT_KIND_HELPER:
        this.helper(p, e, owner);
        break;
      case EventKind.EVENT_KIND_BOUNDARY: {
        const c = p.conns.get(e.connId);
        if (c?.current) {
          c.current.oneWay = true;
          c.current.finished = true;
        }
        break;
      }
      case EventKind.EVENT_KIND_DATAGRAM:
        this.datagram(p, e, owner);
        break;
      case EventKind.EVENT_KIND_DROP_REPORT:
        this.counters.droppedEventsReported += Number(e.droppedEvents);
        for (const s of openSessions(p)) {
          s.droppedEvents += e.droppedEvents;
          s.notes.add('the agent dropped events while this session was open');
        }
        break;
      default:
        this.warn('unknown event kind ignored', { pid: p.hello.pid, kind: e.kind });
    }
    if (p.pending.length > 0) this.settlePending(p, owner);
  }

  private seqGap(p: ProcessState, gap: bigint): void {
    this.counters.seqGapEvents += Number(gap);
    for (const s of openSessions(p)) {
      s.seqGaps += gap;
      s.notes.add('events are missing (sequence gap) while this session was open');
    }
  }

  private addConn(p: ProcessState, e: Event, inbound: boolean, peer: Address | undefined): ConnState {
    const family = peer?.family ?? e.local?.family;
    const transport =
      family === AddressFamily.ADDRESS_FAMILY_UNIX
        ? Transport.TRANSPORT_UNIX
        : e.socketType === SocketType.SOCKET_TYPE_DGRAM
          ? Transport.TRANSPORT_UDP
          : Transport.TRANSPORT_TCP;
    const c: ConnState = {
      id: e.connId,
      inbound,
      local: e.local,
      peer,
      transport,
      bypass: !inbound && this.isBypassed(peer),
      current: undefined,
      currentSession: undefined,
      currentInPrelude: false,
      talksStarted: 0,
      prelude: inbound ? undefined : { connId: e.connId, transport, peer, talks: [], serverFirst: false, open: true, handshake: false },
      mysql: undefined,
      warned: false,
    };
    p.conns.set(e.connId, c);
    return c;
  }

  private connFor(p: ProcessState, e: Event): ConnState {
    const known = p.conns.get(e.connId);
    if (known) return known;
    // Never seen opening (inherited, or opened before the agent): the agent sends both addresses.
    if (e.local && e.peer) {
      const inbound = addressKeys(e.local).some((k) => p.listenKeys.has(k));
      return this.addConn(p, e, inbound, e.peer);
    }
    this.counters.unknownConns++;
    this.warn('connection of unknown origin recorded as outbound with an unknown peer', { pid: p.hello.pid, connId: e.connId.toString() });
    return this.addConn(p, e, false, e.peer);
  }

  private io(p: ProcessState, e: Event, owner: bigint): void {
    const c = this.connFor(p, e);
    if (c.bypass) {
      this.counters.bypassedEvents++;
      return;
    }
    const send = e.kind === EventKind.EVENT_KIND_SEND;
    if (c.inbound) {
      if (send) this.inboundSend(p, c, e, owner);
      else this.inboundRecv(p, c, e, owner);
    } else if (send) {
      this.outboundSend(p, c, e, owner);
    } else {
      this.outboundRecv(p, c, e, owner);
    }
  }

  // ---- inbound ----

  private inboundRecv(p: ProcessState, c: ConnState, e: Event, owner: bigint): void {
    const eof = e.payload.length === 0 && e.payloadLen === 0n;
    if (eof) {
      const s = p.byInboundConn.get(c.id);
      if (s) {
        s.touch(e.tsNs, this.now());
        if (s.responseBegun) this.requestEnd(p, s, SessionEndReason.SESSION_END_REASON_INBOUND_CLOSED, e.tsNs);
      }
      return;
    }
    const onConn = p.byInboundConn.get(c.id);
    if (onConn && onConn.owner !== owner) {
      // Another thread carries on reading a request not yet answered: still the same request.
      if (!onConn.responseBegun && onConn.pendingEnd === undefined) {
        this.appendRequest(onConn, e);
        return;
      }
      this.end(p, onConn, onConn.pendingEnd ?? SessionEndReason.SESSION_END_REASON_NEXT_REQUEST);
    }
    let s = p.sessions.get(owner);
    if (s && (s.pendingEnd !== undefined || s.responseBegun || s.inboundConnId !== c.id)) {
      this.end(p, s, s.pendingEnd ?? SessionEndReason.SESSION_END_REASON_NEXT_REQUEST);
      s = undefined;
    }
    if (!s) {
      const id = `${e.tsNs.toString().padStart(20, '0')}-${p.hello.pid}-${owner}-${++this.counter}`;
      s = new OpenSession(id, owner, c.id, c.peer, c.local, e.tsNs, this.now(), this.opts.maxPayloadBytes);
      p.sessions.set(owner, s);
      p.byInboundConn.set(c.id, s);
    }
    this.appendRequest(s, e);
  }

  private appendRequest(s: OpenSession, e: Event): void {
    if (s.request.total === 0) s.requestNs = e.tsNs;
    s.request.push(e.payload, e.payloadLen);
    s.touch(e.tsNs, this.now());
  }

  private inboundSend(p: ProcessState, c: ConnState, e: Event, owner: bigint): void {
    if (e.payload.length === 0 && e.payloadLen === 0n) return;
    let s = p.sessions.get(owner);
    // The response may be written by a thread other than the reader's: the connection decides.
    if (!s || s.inboundConnId !== c.id) s = p.byInboundConn.get(c.id);
    if (!s) {
      this.counters.unattributedInboundBytes += Math.max(e.payload.length, Number(e.payloadLen));
      if (!c.warned) {
        c.warned = true;
        this.warn('inbound bytes sent with no request open on the connection (server-first protocol?) not recorded', {
          pid: p.hello.pid,
          connId: c.id.toString(),
        });
      }
      return;
    }
    if (!s.responseBegun) {
      s.responseBegun = true;
      s.responseNs = e.tsNs;
    }
    s.response.push(e.payload, e.payloadLen);
    s.touch(e.tsNs, this.now());
  }

  // ---- outbound ----

  private outboundSend(p: ProcessState, c: ConnState, e: Event, owner: bigint): void {
    if (e.payload.length === 0 && e.payloadLen === 0n) return;
    const cur = c.current;
    let t = cur;
    if (!cur || cur.finished || cur.response.total > 0 || cur.eof || cur.owner !== owner || this.orphaned(c)) {
      t = this.startTalk(p, c, e, owner, false);
    }
    if (t!.request.total === 0) t!.requestNs = e.tsNs;
    t!.request.push(e.payload, e.payloadLen);
    c.currentSession?.touch(e.tsNs, this.now());
  }

  private outboundRecv(p: ProcessState, c: ConnState, e: Event, owner: bigint): void {
    const eof = e.payload.length === 0 && e.payloadLen === 0n;
    let t = c.current;
    if (eof) {
      if (t) t.eof = true;
      c.currentSession?.touch(e.tsNs, this.now());
      return;
    }
    if (t && !t.finished && this.orphaned(c)) {
      // The answer to a talk of a session already cut (a new request came first): it has no home.
      this.counters.lateResponseBytes += Math.max(e.payload.length, Number(e.payloadLen));
      this.warn('response bytes after their session ended not recorded', { pid: p.hello.pid, connId: c.id.toString() });
      return;
    }
    if (!t || t.finished) t = this.startTalk(p, c, e, owner, c.talksStarted === 0);
    if (t.response.total === 0) t.responseNs = e.tsNs;
    t.response.push(e.payload, e.payloadLen);
    if (c.mysql && c.currentInPrelude && c.prelude?.handshake) {
      c.mysql.feed(e.payload);
      if (c.mysql.done) c.prelude.handshake = false;
    }
    const s = c.currentSession;
    if (s) {
      s.touch(e.tsNs, this.now());
      this.fedByRecv = s;
    }
  }

  private startTalk(p: ProcessState, c: ConnState, e: Event, owner: bigint, serverFirst: boolean): TalkBuilder {
    if (c.current) c.current.finished = true;
    const t = new TalkBuilder(c.id, c.transport, c.peer, c.local ?? e.local, owner, e.tid, this.opts.maxPayloadBytes);
    c.talksStarted++;
    c.current = t;
    c.currentSession = undefined;
    c.currentInPrelude = false;
    let s = p.sessions.get(owner);
    if (s?.pendingEnd !== undefined) s = undefined;
    const pre = c.prelude!;
    if (serverFirst && pre.open) {
      pre.serverFirst = true;
      pre.handshake = true;
      if (isMysqlGreeting(e.payload)) c.mysql = new MysqlHandshake();
    } else if (pre.handshake && !c.mysql && pre.talks.length >= 2) {
      pre.handshake = false; // generic server-first protocol: the greeting and the client's first talk
    }
    if (pre.open && (pre.handshake || !s) && pre.talks.length < MAX_PRELUDE_TALKS) {
      pre.talks.push(t);
      c.currentInPrelude = true;
      if (s) {
        s.preludes.set(c.id, pre);
        c.currentSession = s;
      }
      return t;
    }
    if (pre.open) {
      if (pre.talks.length >= MAX_PRELUDE_TALKS) this.warn('connection prelude cut at its talk limit', { pid: p.hello.pid, connId: c.id.toString() });
      pre.open = false;
      pre.handshake = false;
    }
    if (s && s.talks.length >= this.opts.maxTalksPerSession) {
      s.notes.add(`ended after ${s.talks.length} talks (limit)`);
      this.end(p, s, SessionEndReason.SESSION_END_REASON_LIMIT);
      s = undefined;
    }
    if (s) {
      s.talks.push(t);
      if (pre.talks.length > 0) s.preludes.set(c.id, pre);
      c.currentSession = s;
    } else {
      this.unattributed(p, c.id, c.peer, owner);
    }
    return t;
  }

  /** The current talk went to a session that has since ended. */
  private orphaned(c: ConnState): boolean {
    return !c.currentInPrelude && c.currentSession !== undefined && c.currentSession.ended;
  }

  private unattributed(p: ProcessState, connId: bigint, peer: Address | undefined, owner: bigint): void {
    const n = ++this.counters.unattributedTalks;
    // Background work can make many: the first few, then a sample, keep logs readable.
    if (n > 20 && n % 1000 !== 0) return;
    this.warn('outbound talk outside any session not recorded', {
      pid: p.hello.pid,
      owner: owner.toString(),
      connId: connId.toString(),
      peer: formatAddress(peer),
    });
  }

  private datagram(p: ProcessState, e: Event, owner: bigint): void {
    const peer = e.originalDst ?? e.peer;
    if (this.isBypassed(peer)) {
      this.counters.bypassedEvents++;
      return;
    }
    const transport = peer?.family === AddressFamily.ADDRESS_FAMILY_UNIX ? Transport.TRANSPORT_UNIX : Transport.TRANSPORT_UDP;
    const t = new TalkBuilder(e.connId, transport, peer, e.local, owner, e.tid, this.opts.maxPayloadBytes);
    t.requestNs = e.tsNs;
    t.request.push(e.payload, e.payloadLen);
    t.oneWay = true;
    t.finished = true;
    let s = p.sessions.get(owner);
    if (s?.pendingEnd !== undefined) s = undefined;
    if (s && s.talks.length >= this.opts.maxTalksPerSession) {
      this.end(p, s, SessionEndReason.SESSION_END_REASON_LIMIT);
      s = undefined;
    }
    if (!s) return this.unattributed(p, e.connId, peer, owner);
    s.talks.push(t);
    s.touch(e.tsNs, this.now());
  }

  // ---- endings ----

  private close(p: ProcessState, e: Event): void {
    const c = p.conns.get(e.connId);
    if (!c) return;
    p.conns.remove(e.connId);
    if (c.current) c.current.finished = true;
    if (!c.inbound) return;
    const s = p.byInboundConn.get(c.id);
    p.byInboundConn.remove(c.id);
    if (!s) return;
    if (!s.responseBegun) s.notes.add('inbound closed before response');
    s.touch(e.tsNs, this.now());
    this.requestEnd(p, s, SessionEndReason.SESSION_END_REASON_INBOUND_CLOSED, e.tsNs);
  }

  private helper(p: ProcessState, e: Event, owner: bigint): void {
    const command = helperCommand(e.payload);
    if (command === HELPER_THREAD_SHUTDOWN) {
      const target = e.flags !== 0n ? e.flags : owner;
      const s = p.sessions.get(target);
      if (s) this.requestEnd(p, s, SessionEndReason.SESSION_END_REASON_HELPER_SHUTDOWN, e.tsNs);
    } else if (command !== 'to-koala!set-delegated-from-thread-id' && command !== 'to-koala!one-way') {
      // The agent stamps vtid and sends BOUNDARY itself: those two need nothing here.
      this.warn('unknown helper command ignored', { pid: p.hello.pid, command });
    }
  }

  /** Ends s now, or once no outbound talk of it awaits a response (never cut mid-call). */
  private requestEnd(p: ProcessState, s: OpenSession, reason: SessionEndReason, tsNs: bigint): void {
    if (s.ended || s.pendingEnd !== undefined) return;
    if (tsNs > s.lastTsNs) s.lastTsNs = tsNs;
    if (!s.awaitingOutbound) return this.end(p, s, reason);
    s.pendingEnd = reason;
    s.pendingSinceMs = this.now();
    p.pending.push(s);
  }

  private settlePending(p: ProcessState, owner: bigint): void {
    // Backwards: end() takes the session out of the list.
    for (let i = p.pending.length - 1; i >= 0; i--) {
      const s = p.pending[i]!;
      // The awaited response may come in several reads: wait for the owner to move on (or tick).
      // awaitingOutbound scans the talks, so it runs last, only for the owner's own session.
      if (owner !== s.owner || s === this.fedByRecv || s.awaitingOutbound) continue;
      this.end(p, s, s.pendingEnd!);
    }
  }

  private end(p: ProcessState, s: OpenSession, reason: SessionEndReason): void {
    if (s.ended) return;
    s.ended = true;
    if (p.sessions.get(s.owner) === s) p.sessions.empty(s.owner);
    if (p.byInboundConn.get(s.inboundConnId) === s) p.byInboundConn.empty(s.inboundConnId);
    if (s.pendingEnd !== undefined) {
      const i = p.pending.indexOf(s);
      if (i >= 0) p.pending.splice(i, 1);
    }
    if (s.awaitingOutbound) s.notes.add('ended while an outbound talk awaited its response');
    const session = s.toSession(p.hello, reason);
    this.counters.sessionsEmitted++;
    try {
      this.onSession(session);
    } catch (err) {
      this.warn('session consumer threw', { id: session.id, error: String(err) });
    }
  }

  private isBypassed(a: Address | undefined): boolean {
    if (this.bypass.size === 0 || !a) return false;
    if (a.family === AddressFamily.ADDRESS_FAMILY_UNIX) return this.bypass.has(a.path);
    const ip = formatIp(a.ip);
    if (this.bypass.has(`:${a.port}`)) return true;
    if (ip === undefined) return false;
    return this.bypass.has(`${ip}:${a.port}`) || this.bypass.has(`[${ip}]:${a.port}`);
  }

  private warn(message: string, detail?: Record<string, unknown>): void {
    this.counters.warnings++;
    this.onWarning?.(message, detail);
  }
}

/** Keys under which an accepted-on local address is remembered. */
function addressKeys(a: Address | undefined): string[] {
  if (!a) return [];
  if (a.family === AddressFamily.ADDRESS_FAMILY_UNIX) return [`unix:${a.path}`];
  return a.port !== 0 ? [`:${a.port}`] : [];
}
