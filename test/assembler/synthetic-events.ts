import { AddressFamily, AgentKind, Event, EventKind, Mode, SocketType, type Address, type AgentHello } from '../../src/generated/koala/v1/agent.pb.js';
import type { Session } from '../../src/generated/koala/v1/session.pb.js';
import { SessionAssembler, type AssemblerOptions } from '../../src/assembler/session-assembler.js';

export function inet(ip: string, port: number): Address {
  return { family: AddressFamily.ADDRESS_FAMILY_INET, ip: Buffer.from(ip.split('.').map(Number)), port, path: '' };
}

export const SUT_ADDR = inet('127.0.0.1', 8080);
export const CLIENT_ADDR = inet('127.0.0.1', 40000);
export const REDIS = inet('10.0.0.2', 6379);
export const MYSQL = inet('10.0.0.3', 3306);

export function hello(pid = 100, startNs = 5n): AgentHello {
  return {
    protocolVersion: 1,
    kind: AgentKind.AGENT_KIND_C_SHIM,
    sutName: 'svc',
    pid,
    hostname: 'host1',
    startNs,
    mode: Mode.MODE_RECORD,
    agentVersion: 't',
    parentPid: 0,
  };
}

/**
 * Drives a SessionAssembler with one synthetic agent: each call is one event, stamped with the
 * next seq and a timestamp 1 µs later, and applied at once.
 */
export class Sim {
  readonly sessions: Session[] = [];
  readonly warnings: string[] = [];
  readonly asm: SessionAssembler;
  nowMs = 0;
  seq = 0n;
  tsNs = 1_000_000_000n;

  constructor(opts: Partial<AssemblerOptions> = {}, readonly linkId = 1) {
    this.asm = new SessionAssembler({ now: () => this.nowMs, ...opts }, (s) => this.sessions.push(s));
    this.asm.onWarning = (m) => this.warnings.push(m);
    this.asm.agentConnected(linkId, hello());
  }

  ev(partial: Partial<Event>): Event {
    this.seq++;
    this.tsNs += 1000n;
    return Event.fromPartial({ seq: this.seq, tsNs: this.tsNs, ...partial } as Parameters<typeof Event.fromPartial>[0]);
  }

  push(partial: Partial<Event>): Event {
    const e = this.ev(partial);
    this.asm.ingest(this.linkId, [e]);
    return e;
  }

  accept(connId: bigint, tid: bigint, peer = CLIENT_ADDR, local = SUT_ADDR): void {
    this.push({ kind: EventKind.EVENT_KIND_ACCEPT, connId, tid, local, peer, socketType: SocketType.SOCKET_TYPE_STREAM });
  }

  connect(connId: bigint, tid: bigint, peer = REDIS, vtid = 0n): void {
    this.push({ kind: EventKind.EVENT_KIND_CONNECT, connId, tid, vtid, peer, originalDst: peer, socketType: SocketType.SOCKET_TYPE_STREAM });
  }

  send(connId: bigint, tid: bigint, data: string | Buffer, vtid = 0n, payloadLen?: number): void {
    const payload = typeof data === 'string' ? Buffer.from(data) : data;
    this.push({ kind: EventKind.EVENT_KIND_SEND, connId, tid, vtid, payload, payloadLen: BigInt(payloadLen ?? payload.length) });
  }

  recv(connId: bigint, tid: bigint, data: string | Buffer, vtid = 0n, payloadLen?: number): void {
    const payload = typeof data === 'string' ? Buffer.from(data) : data;
    this.push({ kind: EventKind.EVENT_KIND_RECV, connId, tid, vtid, payload, payloadLen: BigInt(payloadLen ?? payload.length) });
  }

  eof(connId: bigint, tid: bigint, vtid = 0n): void {
    this.recv(connId, tid, '', vtid);
  }

  close(connId: bigint, tid: bigint, vtid = 0n): void {
    this.push({ kind: EventKind.EVENT_KIND_CLOSE, connId, tid, vtid });
  }

  helper(command: string, tid: bigint, flags = 0n, vtid = 0n): void {
    this.push({ kind: EventKind.EVENT_KIND_HELPER, tid, vtid, flags, payload: Buffer.from(`${command}\n`) });
  }

  /** Advance the clock and let the assembler make its time-based cuts. */
  tick(ms: number): void {
    this.nowMs += ms;
    this.asm.tick();
  }

  only(): Session {
    if (this.sessions.length !== 1) throw new Error(`expected one session, got ${this.sessions.length}`);
    return this.sessions[0]!;
  }
}

export const text = (b: Buffer | undefined): string => (b ?? Buffer.alloc(0)).toString('utf8');
