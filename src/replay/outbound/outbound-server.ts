import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Address } from '../../generated/koala/v1/agent.pb.js';
import type { Talk } from '../../generated/koala/v1/session.pb.js';
import { KoalaError } from '../../errors.js';
import { DetectingFramer, createRequestFramer } from '../framing/detect-protocol.js';
import type { Protocol } from '../framing/framer.js';
import { MessageReader } from '../framing/message-reader.js';
import type { MatchDecision } from '../match/match-types.js';
import type { ConnectionLedger, ReplayLedger } from '../match/replay-ledger.js';
import { noMatch } from '../match/talk-matcher.js';
import { noMatchReply } from './no-match-reply.js';

/** What the agent reported for a redirected connect. sessionId is undefined outside any session. */
export interface OutboundBinding {
  sessionId: string | undefined;
  originalDst: Address;
}

/**
 * Finds the binding of the connection from SUT-side port `remotePort`; may wait for the report,
 * and must bound that wait itself (undefined when it ends without one).
 */
export type OutboundResolver = (remotePort: number) => Promise<OutboundBinding | undefined>;

export type OutboundReaction = 'recorded' | 'one-way' | 'error' | 'closed';

/** One outbound request as the mock saw and answered it. */
export interface OutboundCall {
  remotePort: number;
  originalDst: Address | undefined;
  sessionId: string | undefined;
  protocol: Protocol;
  request: Buffer;
  decision: MatchDecision;
  /** The recorded talk served (for the request diff). */
  talk: Talk | undefined;
  reaction: OutboundReaction;
  atMs: number;
}

export interface OutboundServerOptions {
  host?: string;
  /** Default 2516 (KOALA_OUTBOUND_ADDR); 0 picks a free port. */
  port?: number;
  resolve: OutboundResolver;
  ledger: ReplayLedger;
  /**
   * The session whose write put the byte at `offset` (counted from the connection's first byte)
   * on the connection; may wait (bounded) for the agent's SEND report. Without it the binding's
   * session owns every request, which is wrong once a pooled connection changes hands: only the
   * byte count tells whose request this is.
   */
  ownerAt?: (remotePort: number, offset: number) => Promise<string | undefined>;
  onNoMatch?: 'close' | 'error';
  /** Idle gap ending a request the framer cannot frame. */
  idleMs?: number;
  onCall: (call: OutboundCall) => void;
  /** A redirected connection closed: its mapping entry can go. */
  onClose?: (remotePort: number) => void;
}

/**
 * Stands in for every dependency during replay. A redirected connection is identified by its
 * SUT-side port; it is never served before the agent's report says where it was going and for
 * which session. Requests are framed by protocol, matched, and answered from the recording.
 */
export class OutboundServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly opts: OutboundServerOptions) {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      const remotePort = socket.remotePort ?? 0;
      socket.on('close', () => {
        this.sockets.delete(socket);
        this.opts.onClose?.(remotePort);
      });
      socket.on('error', () => socket.destroy());
      void this.serve(socket);
    });
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new KoalaError('KOALA_ERR_LISTEN', `outbound mock cannot listen: ${err.message}`, { cause: err }));
      this.server.once('error', onError);
      this.server.listen(this.opts.port ?? 2516, this.opts.host ?? '127.0.0.1', () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async serve(socket: Socket): Promise<void> {
    const reader = new MessageReader(socket);
    const remotePort = socket.remotePort ?? 0;
    const binding = await this.opts.resolve(remotePort).catch(() => undefined);
    if (binding === undefined) {
      const first = await reader.read({ framer: createRequestFramer('raw'), idleMs: this.opts.idleMs ?? 100, totalTimeoutMs: 0 });
      this.report(remotePort, undefined, undefined, 'raw', first.bytes, noMatch(this.opts.ledger.options.strategy, undefined, [], 'no agent report for this connection (unknown destination and session)'), undefined, 'closed');
      socket.destroy();
      return;
    }
    const conn = this.opts.ledger.openConnection(binding.originalDst, binding.sessionId);
    const greeting = conn.greeting();
    if (greeting !== undefined && greeting.length > 0) socket.write(greeting);
    const framer = new DetectingFramer(conn.protocol);
    let offset = 0;
    while (!socket.destroyed) {
      const read = await reader.read({ framer, idleMs: this.opts.idleMs ?? 100 });
      if (read.bytes.length === 0) break;
      let pending: Buffer = read.bytes;
      while (pending.length > 0) {
        const owner = this.opts.ownerAt !== undefined ? await this.opts.ownerAt(remotePort, offset) : binding.sessionId;
        // A one-way write and the next request may arrive as one read: serve them one by one.
        const split = conn.oneWayPrefix(pending, owner);
        const request = split === undefined ? pending : pending.subarray(0, split);
        pending = pending.subarray(request.length);
        offset += request.length;
        if (!this.answer(socket, conn, remotePort, binding, framer.protocol, request, owner)) return;
      }
      if (read.end === 'eof') break;
    }
    socket.end();
  }

  /** Serves one request; false when the connection was closed for it. */
  private answer(
    socket: Socket,
    conn: ConnectionLedger,
    remotePort: number,
    binding: OutboundBinding,
    protocol: Protocol,
    request: Buffer,
    owner: string | undefined,
  ): boolean {
    const served = conn.serve(request, owner);
    const sessionId = served.sessionId ?? owner ?? conn.preludeSessionId;
    if (served.decision.matched) {
      if (served.response !== undefined && served.response.length > 0) socket.write(served.response);
      this.report(remotePort, binding.originalDst, sessionId, protocol, request, served.decision, served.talk, served.response === undefined ? 'one-way' : 'recorded');
      return true;
    }
    const reply = this.opts.onNoMatch === 'error' ? noMatchReply(protocol, request) : undefined;
    this.report(remotePort, binding.originalDst, sessionId, protocol, request, served.decision, undefined, reply === undefined ? 'closed' : 'error');
    if (reply === undefined) {
      socket.destroy();
      return false;
    }
    // The HTTP error says `Connection: close`; RESP and MySQL clients keep their connection.
    if (protocol === 'http1') {
      socket.end(reply);
      return false;
    }
    socket.write(reply);
    return true;
  }

  private report(
    remotePort: number,
    originalDst: Address | undefined,
    sessionId: string | undefined,
    protocol: Protocol,
    request: Buffer,
    decision: MatchDecision,
    talk: Talk | undefined,
    reaction: OutboundReaction,
  ): void {
    this.opts.onCall({ remotePort, originalDst, sessionId, protocol, request, decision, talk, reaction, atMs: Date.now() });
  }
}
