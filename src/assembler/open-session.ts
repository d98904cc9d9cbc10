import type { Address, AgentHello } from '../generated/koala/v1/agent.pb.js';
import { SessionEndReason, type Prelude, type Session, type Transport } from '../generated/koala/v1/session.pb.js';
import { ByteChunks } from './byte-chunks.js';
import type { TalkBuilder } from './talk-builder.js';

/** The opening exchange of an outbound connection, shared by every session using the connection. */
export interface PreludeState {
  connId: bigint;
  transport: Transport;
  peer: Address | undefined;
  talks: TalkBuilder[];
  serverFirst: boolean;
  /** Talks outside any session (and handshake talks) still join it. */
  open: boolean;
  /** In the server-first handshake: talks join the prelude even inside a session. */
  handshake: boolean;
}

/** A session being recorded on one (process, virtual thread). */
export class OpenSession {
  readonly request: ByteChunks;
  readonly response: ByteChunks;
  requestNs = 0n;
  responseNs = 0n;
  responseBegun = false;
  readonly talks: TalkBuilder[] = [];
  /** By conn id: each prelude once, in the order the session met them. */
  readonly preludes = new Map<bigint, PreludeState>();
  droppedEvents = 0n;
  seqGaps = 0n;
  readonly notes = new Set<string>();
  lastTsNs: bigint;
  lastActivityMs: number;
  /** A cut asked for while an outbound talk awaited its response: done once none does. */
  pendingEnd: SessionEndReason | undefined;
  pendingSinceMs = 0;
  ended = false;

  constructor(
    readonly id: string,
    readonly owner: bigint,
    readonly inboundConnId: bigint,
    readonly inboundPeer: Address | undefined,
    readonly inboundLocal: Address | undefined,
    readonly startedNs: bigint,
    nowMs: number,
    cap: number,
  ) {
    this.request = new ByteChunks(cap);
    this.response = new ByteChunks(cap);
    this.lastTsNs = startedNs;
    this.lastActivityMs = nowMs;
  }

  touch(tsNs: bigint, nowMs: number): void {
    if (tsNs > this.lastTsNs) this.lastTsNs = tsNs;
    this.lastActivityMs = nowMs;
  }

  get awaitingOutbound(): boolean {
    // Only the last talk per connection can still be waiting; scanning from the end finds it fast.
    for (let i = this.talks.length - 1; i >= 0; i--) if (this.talks[i]!.awaitingResponse) return true;
    for (const p of this.preludes.values()) for (const t of p.talks) if (t.awaitingResponse) return true;
    return false;
  }

  toSession(hello: AgentHello, reason: SessionEndReason): Session {
    let truncated = this.request.truncated + this.response.truncated;
    const talks = this.talks.map((t, i) => {
      truncated += t.truncated;
      return t.toTalk(i);
    });
    const preludes: Prelude[] = [];
    for (const p of this.preludes.values()) {
      if (p.talks.length === 0) continue;
      preludes.push({
        connId: p.connId,
        transport: p.transport,
        peer: p.peer,
        serverFirst: p.serverFirst,
        talks: p.talks.map((t, i) => {
          truncated += t.truncated;
          return t.toTalk(i);
        }),
      });
    }
    return {
      id: this.id,
      sut: hello.sutName,
      pid: hello.pid,
      agent: hello.kind,
      hostname: hello.hostname,
      vtid: this.owner,
      startedNs: this.startedNs,
      endedNs: this.lastTsNs,
      endReason: reason,
      replayOf: '',
      inbound: {
        connId: this.inboundConnId,
        peer: this.inboundPeer,
        local: this.inboundLocal,
        request: this.request.toBuffer(),
        response: this.response.toBuffer(),
        requestNs: this.requestNs,
        responseNs: this.responseNs,
        requestLen: BigInt(this.request.total),
        responseLen: BigInt(this.response.total),
      },
      talks,
      preludes,
      completeness: { droppedEvents: this.droppedEvents, truncatedBytes: BigInt(truncated), seqGaps: this.seqGaps, notes: [...this.notes] },
    };
  }
}
