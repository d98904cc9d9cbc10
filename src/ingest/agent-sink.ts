import type { AgentHello, AgentConfig, Event } from '../generated/koala/v1/agent.pb.js';

/**
 * One connected agent process as the ingest layer sees it. Both transports (the shim's unix
 * socket and the Go agent's gRPC stream) produce the same calls, so nothing downstream knows
 * which kind of agent sent an event.
 */
export interface AgentLink {
  /** Unique per gateway for the life of the link (a reconnecting process gets a new one). */
  readonly linkId: number;
  readonly hello: AgentHello;
  /** "unix" for the shim socket, "grpc" for the Go agent stream. */
  readonly transport: 'unix' | 'grpc';
  /** Push configuration to the agent (mode, outbound address, bypass list). */
  sendConfig(config: AgentConfig): void;
  /** End the link for what it sent (a batch found malformed after it was received). */
  abort(err: Error): void;
}

/** Where ingest delivers decoded agent traffic: the gateway wires this to the assembler. */
export interface AgentSink {
  /** A new agent said hello. Returns the configuration to send it first. */
  agentConnected(link: AgentLink): AgentConfig;
  /** A batch of events from one agent, in the order the agent sent them. */
  agentEvents(link: AgentLink, events: Event[]): void;
  /**
   * When present, every batch arrives here instead, as the agent sent it (an AgentMessage{batch};
   * valid only during the call): the sink decodes it where it assembles it. A batch found
   * malformed later is reported with link.abort.
   */
  agentBatchFrame?(link: AgentLink, frame: Uint8Array): void;
  /** The link ended (clean close, error, or garbage). reason is human-readable. */
  agentDisconnected(link: AgentLink, reason: string): void;
}
