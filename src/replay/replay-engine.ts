import type { AddressInfo } from 'node:net';
import type { Address } from '../generated/koala/v1/agent.pb.js';
import type { Session } from '../generated/koala/v1/session.pb.js';
import { KoalaError } from '../errors.js';
import { InboundDriver, type InboundResult } from './inbound/inbound-driver.js';
import { ReplayLedger } from './match/replay-ledger.js';
import { DEFAULT_MATCH_OPTIONS, type MatchOptions } from './match/talk-matcher.js';
import { OutboundServer, type OutboundBinding, type OutboundCall } from './outbound/outbound-server.js';
import { computeVerdict, type SessionVerdict } from './verdict/compute-verdict.js';
import { DEFAULT_NOISE, type NoiseRules } from './verdict/noise-rules.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface ReplayEngineOptions {
  /** Where the SUT listens (KOALA_SUT_ADDR); replaySession may override per SUT. */
  sut?: HostPort;
  /** The outbound mock's listen address (KOALA_OUTBOUND_ADDR); port 0 in tests. */
  outbound?: HostPort;
  match?: MatchOptions;
  onNoMatch?: 'close' | 'error';
  /** KOALA_INBOUND_READ_TIMEOUT: the idle gap used only where framing cannot decide. */
  idleMs?: number;
  /** Bound on waiting for an agent's CONNECT report after the TCP connection arrived. */
  reportWaitMs?: number;
  /**
   * Bound on waiting for the SEND report covering a request's first byte on a redirected
   * connection (pooled connections change hands). Default 10 s, never less than reportWaitMs:
   * the report normally comes within milliseconds, and the wait only stalls the mock (never a
   * recording SUT) when an agent is starved of CPU; it ends early as soon as the report arrives.
   */
  sendWaitMs?: number;
  /** After the response, how long late outbound calls (fire-and-forget, UDP) still count. */
  settleMs?: number;
  firstByteTimeoutMs?: number;
  totalTimeoutMs?: number;
  noise?: NoiseRules;
  /**
   * The driver registered its local port for a session (before writing the request). The gateway
   * uses it in record+replay mode to link the re-recorded session to the one replayed.
   */
  onInboundRegistered?: (localPort: number, sessionId: string) => void;
}

export interface ReplayOptions {
  sut?: HostPort;
  noise?: NoiseRules;
}

export interface SessionResult {
  sessionId: string;
  sut: string;
  durationMs: number;
  inbound: Omit<InboundResult, 'response'> & { request: Buffer; expected: Buffer; actual: Buffer };
  outboundCalls: number;
  calls: OutboundCall[];
  verdict: SessionVerdict;
}

interface OutboundEntry {
  pid: number;
  originalDst: Address;
  /** The session using the connection now; undefined outside any session. */
  sessionId: string | undefined;
  /** Bytes the agent reported sent on the connection, and whose they were (byte ranges, in order). */
  sent: number;
  marks: Array<{ end: number; sessionId: string | undefined }>;
  /** The mock waits for the report covering a byte it already received. */
  byteWaiters: Array<{ offset: number; wake: () => void }>;
}

const threadKey = (pid: number, vtid: bigint | number): string => `${pid}:${vtid}`;

/**
 * Replay for one gateway. Holds the mapping tables that cross the process boundary:
 *   inbound driver port → session      (filled before the request is written)
 *   SUT (pid, vtid) → session          (from the agent's ACCEPT/RECV of that inbound connection)
 *   SUT outbound local port → {pid, session, original destination}   (from the agent's CONNECT)
 * There is no "current session": every lookup is keyed, and every wait is bounded.
 */
export class ReplayEngine {
  readonly ledger: ReplayLedger;
  private readonly outbound: OutboundServer;
  private readonly inboundPorts = new Map<number, string>();
  private readonly threads = new Map<string, string>();
  private readonly conns = new Map<number, OutboundEntry>();
  private readonly waiters = new Map<number, Array<(e: OutboundEntry) => void>>();
  private readonly calls = new Map<string, OutboundCall[]>();
  /** SUT processes whose agent reports every stream SEND with its byte count (onAgentHello). */
  private readonly countingPids = new Set<number>();

  constructor(private readonly opts: ReplayEngineOptions = {}) {
    this.ledger = new ReplayLedger(opts.match ?? DEFAULT_MATCH_OPTIONS);
    this.outbound = new OutboundServer({
      host: opts.outbound?.host ?? '127.0.0.1',
      port: opts.outbound?.port ?? 2516,
      ledger: this.ledger,
      onNoMatch: opts.onNoMatch ?? 'close',
      idleMs: opts.idleMs ?? 100,
      resolve: (port) => this.resolve(port),
      ownerAt: (port, offset) => this.ownerAt(port, offset),
      onCall: (call) => this.record(call),
      onClose: (port) => this.conns.delete(port),
    });
  }

  /** Starts the outbound mock; returns its address (the agents' KOALA_OUTBOUND_ADDR). */
  start(): Promise<AddressInfo> {
    return this.outbound.listen();
  }

  async close(): Promise<void> {
    await this.outbound.close();
  }

  /** Sessions whose preludes answer connections opened outside any session (start-up pools). */
  preload(sessions: readonly Session[]): void {
    this.ledger.preload(sessions);
  }

  /**
   * An agent connected for process `pid`. `countsSends`: it reports every write on a stream
   * connection as a SEND with its byte count (the C shim and the Go hooks do), so the owner of
   * a request on a pooled connection is always decided by those reports, never by which report
   * happened to arrive first (ownerAt).
   */
  onAgentHello(pid: number, countsSends: boolean): void {
    if (countsSends) this.countingPids.add(pid);
    else this.countingPids.delete(pid);
  }

  /** The agent of `pid` disconnected. */
  onAgentGone(pid: number): void {
    this.countingPids.delete(pid);
  }

  /**
   * The agent saw the SUT accept (or first read) the inbound connection whose client port is
   * `peerPort`: that virtual thread now works for the session the driver registered there.
   */
  onAgentInbound(pid: number, vtid: bigint | number, peerPort: number): string | undefined {
    const sessionId = this.inboundPorts.get(peerPort);
    if (sessionId !== undefined) this.threads.set(threadKey(pid, vtid), sessionId);
    return sessionId;
  }

  /** The agent redirected a connect from `localPort`; the thread's session owns it (or none). */
  onAgentConnect(pid: number, localPort: number, originalDst: Address, vtid: bigint | number): void {
    const entry: OutboundEntry = { pid, originalDst, sessionId: this.threads.get(threadKey(pid, vtid)), sent: 0, marks: [], byteWaiters: [] };
    this.conns.set(localPort, entry);
    const ws = this.waiters.get(localPort);
    this.waiters.delete(localPort);
    for (const w of ws ?? []) w(entry);
  }

  /**
   * A send of `bytes` bytes on a redirected connection: a pooled connection now works for the
   * sender's session, and those bytes are that session's (undefined: no session, e.g. start-up).
   */
  onAgentSend(pid: number, localPort: number, vtid: bigint | number, bytes = 0): void {
    const entry = this.conns.get(localPort);
    if (entry === undefined || entry.pid !== pid) return;
    const sessionId = this.threads.get(threadKey(pid, vtid));
    if (sessionId !== undefined) entry.sessionId = sessionId;
    if (bytes <= 0) return;
    entry.sent += bytes;
    entry.marks.push({ end: entry.sent, sessionId });
    const ready = entry.byteWaiters.filter((w) => w.offset < entry.sent);
    entry.byteWaiters = entry.byteWaiters.filter((w) => w.offset >= entry.sent);
    for (const w of ready) w.wake();
  }

  onAgentThreadExit(pid: number, vtid: bigint | number): void {
    this.threads.delete(threadKey(pid, vtid));
  }

  /** A UDP datagram the agent reported (and did not send): compared with the recording. */
  onAgentDatagram(pid: number, vtid: bigint | number, dst: Address, payload: Buffer): void {
    const sessionId = this.threads.get(threadKey(pid, vtid));
    if (sessionId === undefined) return;
    const served = this.ledger.matchDatagram(sessionId, dst, payload);
    this.record({
      remotePort: 0, originalDst: dst, sessionId, protocol: 'raw', request: payload, decision: served.decision,
      talk: served.talk, reaction: served.decision.matched ? 'one-way' : 'closed', atMs: Date.now(),
    });
  }

  async replaySession(session: Session, ro: ReplayOptions = {}): Promise<SessionResult> {
    if (this.ledger.hasSession(session.id)) {
      throw new KoalaError('KOALA_ERR_REPLAY', `session ${session.id} is already being replayed`);
    }
    const start = Date.now();
    const sut = ro.sut ?? this.opts.sut ?? { host: '127.0.0.1', port: 2515 };
    const request = session.inbound?.request ?? Buffer.alloc(0);
    this.ledger.addSession(session);
    this.calls.set(session.id, []);
    let localPort: number | undefined;
    try {
      const driver = new InboundDriver({
        host: sut.host, port: sut.port, idleMs: this.opts.idleMs ?? 100,
        firstByteTimeoutMs: this.opts.firstByteTimeoutMs, totalTimeoutMs: this.opts.totalTimeoutMs,
      });
      const res = await driver.drive(request, (port) => {
        localPort = port;
        this.inboundPorts.set(port, session.id);
        this.opts.onInboundRegistered?.(port, session.id);
      });
      if ((this.opts.settleMs ?? 50) > 0) await new Promise((r) => setTimeout(r, this.opts.settleMs ?? 50));
      const calls = this.calls.get(session.id) ?? [];
      const unused = this.ledger.unusedTalks(session.id);
      const error = res.error ?? (res.end === 'timeout' ? 'timed out before the response was complete' : undefined);
      const verdict = computeVerdict({
        session, actualResponse: res.end === 'error' ? undefined : res.response, inboundError: error,
        calls, unusedTalks: unused, noise: ro.noise ?? this.opts.noise ?? DEFAULT_NOISE,
      });
      const { response, ...timing } = res;
      return {
        sessionId: session.id, sut: session.sut, durationMs: Date.now() - start,
        inbound: { ...timing, request, expected: session.inbound?.response ?? Buffer.alloc(0), actual: response },
        outboundCalls: calls.length, calls, verdict,
      };
    } finally {
      this.forget(session.id, localPort);
    }
  }

  private forget(sessionId: string, localPort: number | undefined): void {
    if (localPort !== undefined) this.inboundPorts.delete(localPort);
    for (const [k, v] of this.threads) if (v === sessionId) this.threads.delete(k);
    // Pooled connections outlive the session: they go back to "no owner" until the next send.
    for (const e of this.conns.values()) if (e.sessionId === sessionId) e.sessionId = undefined;
    this.ledger.removeSession(sessionId);
    this.calls.delete(sessionId);
  }

  private record(call: OutboundCall): void {
    // A call with no session, or for one already finished, has no report to go into; keeping it
    // would grow without bound in a long-running gateway.
    if (call.sessionId === undefined) return;
    this.calls.get(call.sessionId)?.push(call);
  }

  /**
   * Whose write put byte `offset` on the connection. Waits (bounded by sendWaitMs) for the
   * agent's SEND report of it; without one (an agent that reports no byte counts, lost events)
   * the connection's current owner decides, as before.
   */
  private async ownerAt(port: number, offset: number): Promise<string | undefined> {
    const entry = this.conns.get(port);
    if (entry === undefined) return undefined;
    // An agent that counts its sends (onAgentHello) has reported, or will report, the write that
    // put this byte here: wait for that report even when none of this connection's SENDs has
    // arrived yet. A loaded SUT's reports can all lag behind its bytes: a pooled connection
    // opened in session A, used by A and handed to B within one agent flush, reaches B's request
    // here with nothing reported, and the CONNECT's owner (A) would be a guess, and a wrong one.
    // An agent not known to count sends is waited for only once it has counted some.
    const counted = entry.sent > 0 || this.countingPids.has(entry.pid);
    if (counted && entry.sent <= offset) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          entry.byteWaiters = entry.byteWaiters.filter((w) => w !== waiter);
          resolve();
        }, Math.max(this.opts.sendWaitMs ?? 10_000, this.opts.reportWaitMs ?? 2000));
        timer.unref();
        const waiter = { offset, wake: (): void => { clearTimeout(timer); resolve(); } };
        entry.byteWaiters.push(waiter);
      });
    }
    // Marks before this byte are settled: drop them so a long-lived connection stays small.
    while (entry.marks.length > 0 && entry.marks[0]!.end <= offset) entry.marks.shift();
    const mark = entry.marks[0];
    if (mark === undefined) return entry.sessionId;
    // The writer's session, if it is still being replayed; a finished one's bytes are session-less.
    return mark.sessionId !== undefined && this.ledger.hasSession(mark.sessionId) ? mark.sessionId : undefined;
  }

  private resolve(port: number): Promise<OutboundBinding | undefined> {
    const known = this.conns.get(port);
    if (known !== undefined) return Promise.resolve(toBinding(known));
    // The TCP connection beat the agent's report: wait for it, bounded here, where the waiter
    // can also be dropped when the wait ends (the outbound server arms no timer of its own).
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const rest = (this.waiters.get(port) ?? []).filter((w) => w !== waiter);
        if (rest.length === 0) this.waiters.delete(port);
        else this.waiters.set(port, rest);
        resolve(undefined);
      }, this.opts.reportWaitMs ?? 2000);
      timer.unref();
      const waiter = (e: OutboundEntry): void => {
        clearTimeout(timer);
        resolve(toBinding(e));
      };
      const list = this.waiters.get(port) ?? [];
      list.push(waiter);
      this.waiters.set(port, list);
    });
  }
}

function toBinding(e: OutboundEntry): OutboundBinding {
  return { sessionId: e.sessionId, originalDst: e.originalDst };
}
