/**
 * Turns one agent's event stream into ReplayEngine calls (docs/replay.md, "Wiring"). Keeps, per
 * agent link, only what the events themselves do not repeat: which connection is inbound (and its
 * client port, from ACCEPT) and which is a redirected outbound one (and its SUT-side port, from
 * CONNECT). Every engine call is keyed by the SUT's pid, so processes never share state.
 */
import { AgentKind, EventKind, type AgentHello, type Event } from '../generated/koala/v1/agent.pb.js';
import { HELPER_THREAD_SHUTDOWN, helperCommand } from '../assembler/session-assembler.js';
import type { ReplayEngine } from '../replay/replay-engine.js';

interface ConnState {
  inbound: boolean;
  /** Inbound: the client's port (the driver's key). Outbound: the SUT-side bound port. */
  port: number;
  /** Inbound: the last virtual thread bound through this connection, to skip repeated binds. */
  boundVtid?: bigint;
}

interface LinkState {
  pid: number;
  conns: Map<bigint, ConnState>;
}

export class ReplayRouter {
  private readonly links = new Map<number, LinkState>();

  constructor(private readonly engine: ReplayEngine) {}

  agentConnected(linkId: number, hello: AgentHello): void {
    this.links.set(linkId, { pid: hello.pid, conns: new Map() });
    // Both agents report every stream write as a SEND carrying its byte count (the Go hooks
    // before the write, the C shim after it): replay attributes pooled-connection bytes by them.
    this.engine.onAgentHello(hello.pid, hello.kind === AgentKind.AGENT_KIND_C_SHIM || hello.kind === AgentKind.AGENT_KIND_GO_HOOKS);
  }

  agentDisconnected(linkId: number): void {
    const link = this.links.get(linkId);
    this.links.delete(linkId);
    if (link !== undefined && ![...this.links.values()].some((l) => l.pid === link.pid)) this.engine.onAgentGone(link.pid);
  }

  ingest(linkId: number, events: readonly Event[]): void {
    const link = this.links.get(linkId);
    if (link === undefined) return;
    for (const e of events) this.apply(link, e);
  }

  private apply(link: LinkState, e: Event): void {
    const vtid = e.vtid !== 0n ? e.vtid : e.tid;
    switch (e.kind) {
      case EventKind.EVENT_KIND_ACCEPT:
        // The acceptor thread is not bound here: the thread that reads the request is (thread per
        // connection, worker pools with delegation), on its first RECV below.
        if (e.peer !== undefined) link.conns.set(e.connId, { inbound: true, port: e.peer.port });
        return;
      case EventKind.EVENT_KIND_CONNECT: {
        const dst = e.originalDst ?? e.peer;
        // No local port: not redirected (bypass, unix socket, or a recorder-only agent).
        if (e.local === undefined || e.local.port === 0 || dst === undefined) return;
        link.conns.set(e.connId, { inbound: false, port: e.local.port });
        this.engine.onAgentConnect(link.pid, e.local.port, dst, vtid);
        return;
      }
      case EventKind.EVENT_KIND_RECV:
      case EventKind.EVENT_KIND_SEND: {
        const c = link.conns.get(e.connId);
        if (c === undefined) return;
        if (c.inbound) {
          if (c.boundVtid === vtid) return;
          if (this.engine.onAgentInbound(link.pid, vtid, c.port) !== undefined) c.boundVtid = vtid;
        } else if (e.kind === EventKind.EVENT_KIND_SEND) {
          this.engine.onAgentSend(link.pid, c.port, vtid, Number(e.payloadLen > 0n ? e.payloadLen : BigInt(e.payload.length)));
        }
        return;
      }
      case EventKind.EVENT_KIND_DATAGRAM: {
        const dst = e.peer ?? e.originalDst;
        if (dst !== undefined) this.engine.onAgentDatagram(link.pid, vtid, dst, e.payload);
        return;
      }
      case EventKind.EVENT_KIND_CLOSE:
        link.conns.delete(e.connId);
        return;
      case EventKind.EVENT_KIND_THREAD_EXIT:
        this.engine.onAgentThreadExit(link.pid, e.tid);
        return;
      case EventKind.EVENT_KIND_HELPER: {
        if (helperCommand(e.payload) === HELPER_THREAD_SHUTDOWN) this.engine.onAgentThreadExit(link.pid, e.flags !== 0n ? e.flags : vtid);
        return;
      }
      default:
        return;
    }
  }
}
