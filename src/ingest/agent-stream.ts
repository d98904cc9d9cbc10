/**
 * The per-connection protocol both transports share: the first message must be a hello (which
 * creates the AgentLink and gets the configuration back), every later one a batch. Keeping it in
 * one place means the shim socket and the gRPC stream cannot drift apart.
 */
import { KoalaError } from '../errors.js';
import type { AgentConfig, AgentMessage } from '../generated/koala/v1/agent.pb.js';
import { decodeAgentMessage } from './frame-decoder.js';
import { channels, publish } from '../log/channels.js';
import type { AgentLink, AgentSink } from './agent-sink.js';

let lastLinkId = 0;

/** AgentMessage field 2 (batch), wire type 2 (length-delimited). */
const BATCH_TAG = (2 << 3) | 2;

/** Link ids are unique across both transports for the life of the gateway process. */
export function nextLinkId(): number {
  return ++lastLinkId;
}

export class AgentStream {
  private current: AgentLink | undefined;
  private ended = false;

  constructor(
    private readonly transport: 'unix' | 'grpc',
    private readonly sink: AgentSink,
    private readonly send: (config: AgentConfig) => void,
    private readonly abort: (err: Error) => void,
  ) {}

  get link(): AgentLink | undefined {
    return this.current;
  }

  /**
   * Applies one encoded AgentMessage. A batch goes to a sink that takes frames as it came: without
   * being decoded here when it begins with its tag (as every koala agent writes it), else after a
   * decode that shows it is one (valid protobuf in another field order; the sink's decoder takes
   * it). Anything else is decoded and applied here.
   */
  handleFrame(frame: Uint8Array): void {
    if (this.ended) return;
    const takesFrames = this.current !== undefined && this.sink.agentBatchFrame !== undefined;
    if (takesFrames && frame[0] === BATCH_TAG) {
      this.sink.agentBatchFrame?.(this.current as AgentLink, frame);
      return;
    }
    const msg = decodeAgentMessage(frame);
    if (takesFrames && msg.body?.$case === 'batch') {
      this.sink.agentBatchFrame?.(this.current as AgentLink, frame);
      return;
    }
    this.handle(msg);
  }

  /** Applies one message; throws KoalaError KOALA_ERR_PROTOCOL when it breaks the protocol. */
  handle(msg: AgentMessage): void {
    if (this.ended) return;
    const body = msg.body;
    if (body === undefined) throw new KoalaError('KOALA_ERR_FRAME_MALFORMED', 'message carries neither hello nor batch');
    if (body.$case === 'hello') {
      if (this.current) throw new KoalaError('KOALA_ERR_PROTOCOL', 'second hello on one connection');
      const send = this.send;
      const link: AgentLink = {
        linkId: nextLinkId(),
        hello: body.value,
        transport: this.transport,
        sendConfig: (config) => send(config),
        abort: (err) => this.abort(err),
      };
      this.current = link;
      const config = this.sink.agentConnected(link);
      publish(channels.agentConnect, { linkId: link.linkId, transport: link.transport, hello: link.hello });
      send(config);
      return;
    }
    if (!this.current) throw new KoalaError('KOALA_ERR_PROTOCOL', 'batch before hello');
    if (body.value.events.length > 0) this.sink.agentEvents(this.current, body.value.events);
  }

  /** Ends the link once (idempotent); tells the sink only if a hello was seen. */
  end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    const link = this.current;
    if (!link) return;
    this.sink.agentDisconnected(link, reason);
    publish(channels.agentDisconnect, { linkId: link.linkId, transport: link.transport, reason });
  }
}
