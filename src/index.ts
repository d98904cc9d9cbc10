/** koala's public library surface. Everything else under src/ is internal. */
import { Gateway, type GatewayOptions } from './gateway/gateway.js';
import { Logger } from './log/logger.js';

export { Gateway, type GatewayOptions, type GatewayStats } from './gateway/gateway.js';
export { KoalaError, isKoalaError, type KoalaErrorCode } from './errors.js';
export { loadConfig, type LoadConfigInput } from './config/load-config.js';
export { OPTIONS, type KoalaConfig, type KoalaMode, type LogLevelName } from './config/options.js';
export { Logger } from './log/logger.js';
export { CHANNEL_NAMES, type SessionMessage, type AgentConnectMessage, type AgentDisconnectMessage, type IngestErrorMessage } from './log/channels.js';
export type { AgentLink, AgentSink } from './ingest/agent-sink.js';
export { readSessions, findSession } from './store/session-reader.js';
export { JsonlSessionStore, type SessionStore } from './store/jsonl-session-store.js';
export { encodeSessionLine, decodeSessionLine } from './store/session-codec.js';
export { assembleSpools, assembleSpool, type AssembleSpoolOptions, type SpoolOutcome } from './spool/assemble-spool.js';
export { findSpools, type Spool } from './spool/spool-reader.js';
export type { SpoolStats } from './spool/spool-writer.js';
export {
  Session,
  Inbound,
  Talk,
  Prelude,
  Completeness,
  SessionEndReason,
  Transport,
} from './generated/koala/v1/session.pb.js';
export {
  Address,
  AddressFamily,
  AgentConfig,
  AgentHello,
  AgentKind,
  AgentMessage,
  Event,
  EventBatch,
  EventKind,
  GatewayMessage,
  Mode,
  SocketType,
} from './generated/koala/v1/agent.pb.js';

/**
 * Starts a gateway in this process: listens for agents on the unix socket and the gRPC address,
 * assembles sessions, stores them when `storeDir` is given and emits them as 'session'. The
 * environment is not read: every option not given takes its default. Logging is off unless
 * `logLevel`/`logFile` or a `logger` is given.
 */
export async function startGateway(opts: GatewayOptions = {}): Promise<Gateway> {
  const logger = opts.logger ?? (opts.logLevel === undefined && opts.logFile === undefined ? Logger.silent() : undefined);
  return Gateway.start(logger ? { ...opts, logger } : opts);
}
