import { connect, type Socket } from 'node:net';
import { createResponseFramer, detectProtocol } from '../framing/detect-protocol.js';
import type { Protocol } from '../framing/framer.js';
import { MessageReader, type ReadEnd } from '../framing/message-reader.js';

export interface InboundDriverOptions {
  /** The SUT's listening address (KOALA_SUT_ADDR, or one per SUT). */
  host: string;
  port: number;
  /** Fallback idle gap ending a response the framer cannot frame (KOALA_INBOUND_READ_TIMEOUT). */
  idleMs?: number;
  /** No first byte by then: the SUT did not answer. */
  firstByteTimeoutMs?: number;
  /** The whole response by then. */
  totalTimeoutMs?: number;
  connectTimeoutMs?: number;
}

export interface InboundResult {
  response: Buffer;
  protocol: Protocol;
  /** How the response ended: framed (complete by protocol), idle (fallback), eof, timeout, or error. */
  end: ReadEnd | 'error';
  error: string | undefined;
  /** The driver's own port, the key the gateway registered for this session. */
  localPort: number | undefined;
  connectMs: number;
  firstByteMs: number | undefined;
  totalMs: number;
}

/**
 * Plays a recorded inbound request to the SUT. The connection's local port is handed to
 * `register` and awaited BEFORE the first byte is written, so the agent's report of the accept
 * and the first recv always finds the session. The response is read with protocol framing; the
 * idle gap ends it only when the bytes cannot be framed.
 */
export class InboundDriver {
  constructor(private readonly opts: InboundDriverOptions) {}

  async drive(request: Buffer, register: (localPort: number) => void | Promise<void>): Promise<InboundResult> {
    const start = Date.now();
    const protocol = detectProtocol(request);
    const fail = (error: string, localPort?: number, connectMs = Date.now() - start): InboundResult => ({
      response: Buffer.alloc(0), protocol, end: 'error', error, localPort, connectMs, firstByteMs: undefined, totalMs: Date.now() - start,
    });
    let socket: Socket;
    try {
      socket = await this.connect();
    } catch (err) {
      return fail(`connect to SUT ${this.opts.host}:${this.opts.port}: ${(err as Error).message}`);
    }
    const connectMs = Date.now() - start;
    const localPort = socket.localPort;
    try {
      const reader = new MessageReader(socket);
      if (localPort === undefined) return fail('no local port after connect', undefined, connectMs);
      try {
        await register(localPort);
      } catch (err) {
        return fail(`register: ${(err as Error).message}`, localPort, connectMs);
      }
      socket.write(request);
      const { framer, expected } = createResponseFramer(protocol, request);
      const idleMs = this.opts.idleMs ?? 100;
      const sent = Date.now();
      const read = await reader.read({
        framer,
        expected,
        idleMs,
        firstByteTimeoutMs: Math.max(this.opts.firstByteTimeoutMs ?? 30_000, idleMs),
        totalTimeoutMs: this.opts.totalTimeoutMs ?? 60_000,
      });
      return {
        response: Buffer.from(read.bytes),
        protocol,
        end: read.end,
        error: read.end === 'timeout' && read.bytes.length === 0 ? 'the SUT sent no response' : undefined,
        localPort,
        connectMs,
        firstByteMs: read.firstByteMs === undefined ? undefined : read.firstByteMs + (sent - start),
        totalMs: Date.now() - start,
      };
    } finally {
      socket.destroy();
    }
  }

  private connect(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.opts.host, port: this.opts.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('connect timed out'));
      }, this.opts.connectTimeoutMs ?? 5000);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.on('error', () => undefined);
        resolve(socket);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }
}
