/**
 * The unix socket the C shim agents connect to. One AgentStream per connection; anything wrong
 * with one connection's bytes (garbage, a truncated or oversized frame, a batch before hello)
 * is logged with the agent's pid and drops that connection only.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { KoalaError, isKoalaError } from '../errors.js';
import { GatewayMessage } from '../generated/koala/v1/agent.pb.js';
import { channels, publish } from '../log/channels.js';
import { Logger } from '../log/logger.js';
import type { AgentSink } from './agent-sink.js';
import { AgentStream } from './agent-stream.js';
import { FrameDecoder, encodeGatewayFrame } from './frame-decoder.js';
import { prepareSocketPath, restrictSocket } from './socket-path.js';

export interface ShimListenerOptions {
  path: string;
  sink: AgentSink;
  maxFrameBytes: number;
  logger?: Logger;
}

export interface IngestStats {
  connections: number;
  badFrames: number;
}

export class ShimListener {
  readonly path: string;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly log: Logger;
  private badFrames = 0;
  private listening = false;
  private paused = false;

  constructor(private readonly opts: ShimListenerOptions) {
    this.path = opts.path;
    this.log = (opts.logger ?? Logger.silent()).child('ingest');
    this.server = createServer((socket) => this.accept(socket));
    this.server.on('error', (err) => this.log.error('shim listener error', { err }));
  }

  async listen(): Promise<void> {
    await prepareSocketPath(this.path, this.log);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new KoalaError('KOALA_ERR_LISTEN', `cannot listen on ${this.path}: ${err.message}`, { cause: err }));
      this.server.once('error', onError);
      this.server.listen(this.path, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.listening = true;
    await restrictSocket(this.path);
    this.log.info('listening for shim agents', { socket: this.path });
  }

  stats(): IngestStats {
    return { connections: this.sockets.size, badFrames: this.badFrames };
  }

  /** Stops (or resumes) reading from every agent connection: the shims' rings then drop and count. */
  setPaused(paused: boolean): void {
    this.paused = paused;
    for (const s of this.sockets) {
      if (paused) s.pause();
      else s.resume();
    }
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    if (this.paused) socket.pause();
    const decoder = new FrameDecoder(this.opts.maxFrameBytes);
    const stream = new AgentStream(
      'unix',
      this.opts.sink,
      (config) => {
        if (!socket.destroyed) socket.write(encodeGatewayFrame(GatewayMessage.fromPartial({ body: { $case: 'config', value: config } })));
      },
      (err) => {
        if (failure === undefined) fail(err);
      },
    );
    let failure: string | undefined;
    const fail = (err: unknown) => {
      const code = isKoalaError(err) ? err.code : 'KOALA_ERR_PROTOCOL';
      const message = err instanceof Error ? err.message : String(err);
      if (code === 'KOALA_ERR_FRAME_TOO_LARGE' || code === 'KOALA_ERR_FRAME_MALFORMED') this.badFrames++;
      failure = `${code}: ${message}`;
      const pid = stream.link?.hello.pid;
      this.log.warn('dropping shim agent connection', { pid, sut: stream.link?.hello.sutName, code, reason: message });
      publish(channels.ingestError, { transport: 'unix', pid, code, message });
      socket.destroy();
    };
    socket.on('data', (chunk: Buffer) => {
      if (failure !== undefined) return;
      try {
        for (const frame of decoder.push(chunk)) {
          stream.handleFrame(frame);
          if (failure !== undefined) return;
        }
      } catch (err) {
        fail(err);
      }
    });
    socket.on('end', () => {
      if (failure === undefined && decoder.pendingBytes > 0) {
        fail(new KoalaError('KOALA_ERR_FRAME_MALFORMED', `connection closed in the middle of a frame (${decoder.pendingBytes} bytes pending)`));
      }
      socket.end();
    });
    socket.on('error', (err) => {
      if (failure === undefined) failure = `socket error: ${err.message}`;
    });
    socket.on('close', () => {
      this.sockets.delete(socket);
      stream.end(failure ?? 'agent closed the connection');
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.listening) {
      this.listening = false;
      // net.Server removes its unix socket file on close.
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
  }
}
