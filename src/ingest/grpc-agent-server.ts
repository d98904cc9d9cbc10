/**
 * The gRPC endpoint the Go agents stream to (AgentService.Connect). Same protocol as the shim
 * socket through AgentStream; a broken stream is ended with a status and nothing else is touched.
 */
import * as grpc from '@grpc/grpc-js';
import { KoalaError, isKoalaError } from '../errors.js';
import { AgentServiceService, type GatewayMessage } from '../generated/koala/v1/agent.pb.js';
import { parseHostPort, formatHostPort, isLoopbackHost, unixTargetPath } from '../config/option-parsers.js';
import { channels, publish } from '../log/channels.js';
import { Logger } from '../log/logger.js';
import type { AgentSink } from './agent-sink.js';
import { AgentStream } from './agent-stream.js';
import type { IngestStats } from './shim-listener.js';
import { prepareSocketPath, restrictSocket } from './socket-path.js';

export interface GrpcAgentServerOptions {
  /**
   * host:port (port 0 picks a free port; see `address` after listen), or the opt-in
   * `unix:///abs/path.sock`: parent directory created 0700, socket 0600, as for the shim socket.
   */
  address: string;
  sink: AgentSink;
  maxFrameBytes: number;
  logger?: Logger;
}

/** The one place errors become gRPC statuses. */
export function toGrpcStatus(err: unknown): { code: grpc.status; details: string } {
  const details = err instanceof Error ? err.message : String(err);
  if (!isKoalaError(err)) return { code: grpc.status.INTERNAL, details };
  switch (err.code) {
    case 'KOALA_ERR_FRAME_TOO_LARGE':
      return { code: grpc.status.RESOURCE_EXHAUSTED, details };
    case 'KOALA_ERR_FRAME_MALFORMED':
    case 'KOALA_ERR_PROTOCOL':
      return { code: grpc.status.INVALID_ARGUMENT, details };
    default:
      return { code: grpc.status.INTERNAL, details };
  }
}

/**
 * AgentService with requests left as bytes: AgentStream decodes what it must (the hello), and
 * batches may go on undecoded to where they are assembled.
 */
const RAW_AGENT_SERVICE = {
  connect: { ...AgentServiceService.connect, requestDeserialize: (value: Buffer): Buffer => value },
} satisfies grpc.ServiceDefinition;

type AgentCall = grpc.ServerDuplexStream<Buffer, GatewayMessage>;

export class GrpcAgentServer {
  private readonly server: grpc.Server;
  private readonly log: Logger;
  private readonly calls = new Set<AgentCall>();
  private badFrames = 0;
  private paused = false;
  private actual = '';

  constructor(private readonly opts: GrpcAgentServerOptions) {
    this.log = (opts.logger ?? Logger.silent()).child('ingest');
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': opts.maxFrameBytes,
      'grpc.max_send_message_length': 4 * 1024 * 1024,
    });
    this.server.addService(RAW_AGENT_SERVICE, { connect: (call: AgentCall) => this.connect(call) });
  }

  /** The address actually bound (the real port when 0 was asked). */
  get address(): string {
    return this.actual;
  }

  async listen(): Promise<string> {
    const socketPath = unixTargetPath(this.opts.address);
    if (socketPath !== undefined) return this.listenUnix(socketPath);
    const hp = parseHostPort(this.opts.address);
    if (!isLoopbackHost(hp.host)) {
      this.log.warn('gRPC agent endpoint is reachable beyond this machine and has no authentication', { address: this.opts.address });
    }
    const port = await this.bind(formatHostPort(hp));
    this.actual = formatHostPort({ host: hp.host, port });
    this.log.info('listening for gRPC agents', { address: this.actual });
    return this.actual;
  }

  private async listenUnix(path: string): Promise<string> {
    await prepareSocketPath(path, this.log);
    await this.bind(this.opts.address);
    await restrictSocket(path);
    this.actual = this.opts.address;
    this.log.info('listening for gRPC agents', { address: this.actual });
    return this.actual;
  }

  private bind(target: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (err, p) => {
        if (err) reject(new KoalaError('KOALA_ERR_LISTEN', `cannot listen on ${this.opts.address} for gRPC agents: ${err.message}`, { cause: err }));
        else resolve(p);
      });
    });
  }

  stats(): IngestStats {
    return { connections: this.calls.size, badFrames: this.badFrames };
  }

  /** Stops (or resumes) reading from every agent stream: HTTP/2 flow control then holds the agents back. */
  setPaused(paused: boolean): void {
    this.paused = paused;
    for (const call of this.calls) {
      if (paused) call.pause();
      else call.resume();
    }
  }

  private connect(call: AgentCall): void {
    this.calls.add(call);
    if (this.paused) call.pause();
    let failure: string | undefined;
    const stream = new AgentStream(
      'grpc',
      this.opts.sink,
      (config) => {
        if (failure === undefined && !call.writableEnded) call.write({ body: { $case: 'config', value: config } });
      },
      (err) => fail(err),
    );
    const finish = (reason: string) => {
      this.calls.delete(call);
      stream.end(reason);
    };
    const fail = (err: unknown) => {
      if (failure !== undefined) return;
      const status = toGrpcStatus(err);
      if (isKoalaError(err, 'KOALA_ERR_FRAME_MALFORMED')) this.badFrames++;
      failure = `${isKoalaError(err) ? err.code : 'error'}: ${status.details}`;
      const pid = stream.link?.hello.pid;
      this.log.warn('ending gRPC agent stream', { pid, sut: stream.link?.hello.sutName, reason: status.details });
      publish(channels.ingestError, { transport: 'grpc', pid, code: isKoalaError(err) ? err.code : 'KOALA_ERR_PROTOCOL', message: status.details });
      // ServerDuplexStream turns an 'error' event into the call's final status.
      call.emit('error', status);
      finish(failure);
    };
    call.on('data', (frame: Buffer) => {
      if (failure !== undefined) return;
      try {
        stream.handleFrame(frame);
      } catch (err) {
        fail(err);
      }
    });
    call.on('end', () => {
      if (!call.writableEnded) call.end();
      finish(failure ?? 'agent closed the stream');
    });
    call.on('cancelled', () => finish(failure ?? 'agent stream cancelled'));
    call.on('error', (err: Error) => {
      if (failure === undefined) this.log.debug('gRPC agent stream error', { pid: stream.link?.hello.pid, err });
      finish(failure ?? `stream error: ${err.message}`);
    });
    call.on('close', () => finish(failure ?? 'agent stream closed'));
  }

  async close(): Promise<void> {
    for (const call of this.calls) if (!call.writableEnded) call.end();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.server.forceShutdown(); resolve(); }, 1000);
      this.server.tryShutdown(() => { clearTimeout(timer); resolve(); });
    });
    this.calls.clear();
  }
}
