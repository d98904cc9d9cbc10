/**
 * The option table: every gateway option exactly once. The KoalaConfig type, the runtime checks
 * (loadConfig), the CLI flags and --help, and docs/configuration.md are all derived from it.
 */
import { getuid } from 'node:process';
import {
  oneOf,
  parseAddress,
  parseBypassList,
  parseBytes,
  parseDurationMs,
  parseGrpcAddress,
  parseNice,
  parsePath,
  parseRatio,
} from './option-parsers.js';

export const MODES = ['record', 'replay', 'record+replay'] as const;
export type KoalaMode = (typeof MODES)[number];
export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

export interface OptionSpec<T> {
  env: string;
  /** Long flag without the leading dashes. */
  flag: string;
  /** What a value looks like, for --help and the docs. */
  kind: string;
  default: () => T;
  /** How the default is shown (computed defaults such as the uid would otherwise leak in). */
  defaultText: string;
  parse: (raw: string) => T;
  description: string;
}

function opt<T>(spec: OptionSpec<T>): OptionSpec<T> {
  return spec;
}

export function defaultAgentSocket(): string {
  return `/tmp/koala-${getuid ? getuid() : 0}/agent.sock`;
}

export const OPTIONS = {
  mode: opt<KoalaMode>({
    env: 'KOALA_MODE',
    flag: 'mode',
    kind: MODES.join(' | '),
    default: () => 'record',
    defaultText: 'record',
    parse: oneOf(MODES, { caseInsensitive: true }),
    description: 'What the gateway and its agents do: record traffic, replay sessions, or both at once.',
  }),
  storeDir: opt<string | undefined>({
    env: 'KOALA_STORE_DIR',
    flag: 'store',
    kind: 'directory',
    default: () => undefined,
    defaultText: 'none (sessions are only emitted in process)',
    parse: parsePath,
    description: 'Directory of the session store (JSON Lines files); created when missing.',
  }),
  agentSocket: opt<string>({
    env: 'KOALA_AGENT_SOCKET',
    flag: 'agent-socket',
    kind: 'path',
    default: defaultAgentSocket,
    defaultText: '/tmp/koala-<uid>/agent.sock',
    parse: parsePath,
    description: 'Unix socket the C shim agents connect to. The parent directory is created 0700, the socket 0600.',
  }),
  agentGrpcAddr: opt<string>({
    env: 'KOALA_AGENT_GRPC_ADDR',
    flag: 'grpc-addr',
    kind: 'host:port | unix:///path',
    default: () => '127.0.0.1:2517',
    defaultText: '127.0.0.1:2517',
    parse: parseGrpcAddress,
    description:
      'gRPC address the Go agents stream to (insecure; port 0 picks a free port). Opt-in: unix:///abs/path.sock listens on a unix socket instead (parent directory created 0700, socket 0600).',
  }),
  inboundAddr: opt<string>({
    env: 'KOALA_INBOUND_ADDR',
    flag: 'inbound-addr',
    kind: 'host:port',
    default: () => '127.0.0.1:2514',
    defaultText: '127.0.0.1:2514',
    parse: parseAddress,
    description: 'Replay: address of the inbound driver (where replays are requested).',
  }),
  sutAddr: opt<string>({
    env: 'KOALA_SUT_ADDR',
    flag: 'sut-addr',
    kind: 'host:port',
    default: () => '127.0.0.1:2515',
    defaultText: '127.0.0.1:2515',
    parse: parseAddress,
    description: 'Replay: address the SUT serves on; recorded requests are sent there.',
  }),
  outboundAddr: opt<string>({
    env: 'KOALA_OUTBOUND_ADDR',
    flag: 'outbound-addr',
    kind: 'host:port',
    default: () => '127.0.0.1:2516',
    defaultText: '127.0.0.1:2516',
    parse: parseAddress,
    description: "Replay: where the agents redirect the SUT's outbound connects (the gateway's outbound mock).",
  }),
  outboundBypassAddrs: opt<string[]>({
    env: 'KOALA_OUTBOUND_BYPASS_ADDR',
    flag: 'outbound-bypass-addr',
    kind: 'ip:port,:port,…',
    default: () => [],
    defaultText: 'none',
    parse: parseBypassList,
    description: 'Comma list of destinations neither recorded nor redirected (":port" = any host).',
  }),
  matchStrategy: opt<'chunk' | 'sim'>({
    env: 'KOALA_REPLAYING_MATCH_STRATEGY',
    flag: 'match-strategy',
    kind: 'chunk | sim',
    default: () => 'chunk',
    defaultText: 'chunk',
    parse: oneOf(['chunk', 'sim'] as const, { caseInsensitive: true }),
    description: 'Replay: how an outbound request is matched to a recorded talk.',
  }),
  matchThreshold: opt<number>({
    env: 'KOALA_REPLAYING_MATCH_THRESHOLD',
    flag: 'match-threshold',
    kind: 'number 0..1',
    default: () => 0.7,
    defaultText: '0.7',
    parse: parseRatio,
    description: 'Replay: minimum similarity for the sim strategy to accept a match.',
  }),
  inboundReadTimeoutMs: opt<number>({
    env: 'KOALA_INBOUND_READ_TIMEOUT',
    flag: 'inbound-read-timeout',
    kind: 'duration',
    default: () => 100,
    defaultText: '100ms',
    parse: parseDurationMs,
    description: "Replay: idle gap that ends the SUT's response when its framing is unknown.",
  }),
  logFile: opt<string>({
    env: 'KOALA_LOG_FILE',
    flag: 'log-file',
    kind: 'STDOUT | STDERR | path',
    default: () => 'STDERR',
    defaultText: 'STDERR',
    parse: (raw) => {
      const upper = raw.toUpperCase();
      return upper === 'STDOUT' || upper === 'STDERR' ? upper : parsePath(raw);
    },
    description: 'Where the gateway logs. A path is rotated hourly to <path>.<yyyymmddhh> (UTC).',
  }),
  logLevel: opt<LogLevelName>({
    env: 'KOALA_LOG_LEVEL',
    flag: 'log-level',
    kind: LOG_LEVELS.join(' | '),
    default: () => 'INFO',
    defaultText: 'INFO',
    parse: oneOf(LOG_LEVELS, { caseInsensitive: true }),
    description: 'Lowest level logged (case-insensitive).',
  }),
  maxFrameBytes: opt<number>({
    env: 'KOALA_MAX_FRAME',
    flag: 'max-frame',
    kind: 'bytes',
    default: () => 16 * 1024 * 1024,
    defaultText: '16MiB',
    parse: parseBytes,
    description: 'Largest agent frame (unix socket) or gRPC message accepted; a bigger one drops that agent connection.',
  }),
  sessionIdleMs: opt<number>({
    env: 'KOALA_SESSION_IDLE',
    flag: 'session-idle',
    kind: 'duration',
    default: () => 2000,
    defaultText: '2s',
    parse: parseDurationMs,
    description: 'A session whose response has begun ends after this long without activity.',
  }),
  assembler: opt<'thread' | 'inline' | 'spool'>({
    env: 'KOALA_ASSEMBLER',
    flag: 'assembler',
    kind: 'thread | inline | spool',
    default: () => 'thread',
    defaultText: 'thread',
    parse: oneOf(['thread', 'inline', 'spool'] as const, { caseInsensitive: true }),
    description:
      "Record mode: decode, assemble and store on a worker thread at a low priority (thread), or on the thread that receives (inline), or not at all while recording (spool): the agents' batches are appended as received to spool-*.kspool files in the store directory, and `koala assemble` turns them into the same sessions later. record+replay always assembles inline.",
  }),
  recordNice: opt<number>({
    env: 'KOALA_RECORD_NICE',
    flag: 'record-nice',
    kind: 'integer 0..19',
    default: () => 19,
    defaultText: '19',
    parse: parseNice,
    description:
      "Record mode: the priority a recording gateway yields to the SUT with. `koala gateway` runs all its threads at this nice value; a Gateway embedded in another program lowers only its assembly thread. 19 takes only CPU the SUT leaves idle (under sustained saturation the agents buffer, then drop and count); 0 competes with the SUT as an equal. Ignored with --assembler inline.",
  }),
  assemblerBacklogBytes: opt<number>({
    env: 'KOALA_ASSEMBLER_BACKLOG',
    flag: 'assembler-backlog',
    kind: 'bytes',
    default: () => 256 * 1024 * 1024,
    defaultText: '256MiB',
    parse: parseBytes,
    description:
      "Received batches the assembly thread may be behind by; beyond it the gateway stops reading from agents until it catches up, and the agents' bounded buffers drop and count.",
  }),
  maxPayloadBytes: opt<number>({
    env: 'KOALA_MAX_PAYLOAD',
    flag: 'max-payload',
    kind: 'bytes',
    default: () => 64 * 1024 * 1024,
    defaultText: '64MiB',
    parse: parseBytes,
    description: 'Bytes kept per direction of a request or response; beyond it the session records truncation.',
  }),
  bufferSize: opt<number>({
    env: 'KOALA_BUFFER_SIZE',
    flag: 'buffer-size',
    kind: 'bytes',
    default: () => 33554432,
    defaultText: '32MiB',
    parse: parseBytes,
    description: 'Agent event buffer (passed to agents by koala run); beyond it events are dropped and counted.',
  }),
} as const;

export type OptionName = keyof typeof OPTIONS;
type ValueOf<S> = S extends OptionSpec<infer T> ? T : never;
export type KoalaConfig = { [K in OptionName]: ValueOf<(typeof OPTIONS)[K]> };

export const OPTION_NAMES = Object.keys(OPTIONS) as OptionName[];

/** Render one value the way its env var would spell it (koala run passes options on this way). */
export function formatOptionValue(name: OptionName, value: KoalaConfig[OptionName]): string {
  if (Array.isArray(value)) return value.join(',');
  if (name === 'inboundReadTimeoutMs' || name === 'sessionIdleMs') return `${String(value)}ms`;
  return String(value);
}
