/**
 * diagnostics_channel channels: an embedding application can observe the gateway without a
 * logger (subscribe with `diagnostics_channel.subscribe('koala:session', fn)`). Messages are
 * published only when someone subscribes, so they cost nothing otherwise.
 */
import diagnostics_channel from 'node:diagnostics_channel';
import type { AgentHello } from '../generated/koala/v1/agent.pb.js';
import type { Session } from '../generated/koala/v1/session.pb.js';

export interface SessionMessage { session: Session }
export interface AgentConnectMessage { linkId: number; transport: 'unix' | 'grpc'; hello: AgentHello }
export interface AgentDisconnectMessage { linkId: number; transport: 'unix' | 'grpc'; reason: string }
export interface IngestErrorMessage { transport: 'unix' | 'grpc'; pid?: number; code: string; message: string }

export const CHANNEL_NAMES = {
  session: 'koala:session',
  agentConnect: 'koala:agent:connect',
  agentDisconnect: 'koala:agent:disconnect',
  ingestError: 'koala:ingest:error',
} as const;

export const channels = {
  session: diagnostics_channel.channel(CHANNEL_NAMES.session),
  agentConnect: diagnostics_channel.channel(CHANNEL_NAMES.agentConnect),
  agentDisconnect: diagnostics_channel.channel(CHANNEL_NAMES.agentDisconnect),
  ingestError: diagnostics_channel.channel(CHANNEL_NAMES.ingestError),
};

export function publish<T extends object>(channel: diagnostics_channel.Channel, message: T): void {
  if (channel.hasSubscribers) channel.publish(message);
}
