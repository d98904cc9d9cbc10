/** An AgentSink that records every call, plus helpers to build agent messages for tests. */
import { AgentKind, Mode, type AgentConfig, type AgentHello, type AgentMessage, type Event, EventKind } from '../../src/generated/koala/v1/agent.pb.js';
import { Event as EventMsg } from '../../src/generated/koala/v1/agent.pb.js';
import type { AgentLink, AgentSink } from '../../src/ingest/agent-sink.js';

export class FakeSink implements AgentSink {
  readonly connected: AgentLink[] = [];
  readonly events: Array<{ linkId: number; events: Event[] }> = [];
  readonly disconnected: Array<{ linkId: number; reason: string }> = [];
  private waiters: Array<() => void> = [];

  agentConnected(link: AgentLink): AgentConfig {
    this.connected.push(link);
    this.wake();
    return { mode: Mode.MODE_RECORD, outboundAddr: '127.0.0.1:2516', bypassAddrs: [':6379'], maxPayload: 0, gatewayId: 'test-gw' };
  }

  agentEvents(link: AgentLink, events: Event[]): void {
    this.events.push({ linkId: link.linkId, events });
    this.wake();
  }

  agentDisconnected(link: AgentLink, reason: string): void {
    this.disconnected.push({ linkId: link.linkId, reason });
    this.wake();
  }

  eventsOf(linkId: number): Event[] {
    return this.events.filter((e) => e.linkId === linkId).flatMap((e) => e.events);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when cond() holds, re-checked after every sink call; rejects after timeoutMs. */
  async until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for the sink');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }
}

export function hello(pid: number, sutName = 'svc'): AgentMessage {
  const value: AgentHello = {
    protocolVersion: 1, kind: AgentKind.AGENT_KIND_C_SHIM, sutName, pid, hostname: 'host', startNs: 1n,
    mode: Mode.MODE_RECORD, agentVersion: 'test', parentPid: 0,
  };
  return { body: { $case: 'hello', value } };
}

export function sendEvent(seq: number, payload = 'x'): Event {
  return EventMsg.fromPartial({ seq: BigInt(seq), kind: EventKind.EVENT_KIND_SEND, connId: 1n, fd: 5, payload: Buffer.from(payload), payloadLen: BigInt(payload.length) });
}

export function batch(...events: Event[]): AgentMessage {
  return { body: { $case: 'batch', value: { events } } };
}

/** A protobuf varint (lengths in hand-built frames). */
export function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}
