/**
 * Messages between the gateway's main thread and its assembly thread. Everything the assembler
 * sees goes through one port in order, stamped with the main thread's clock when it arrived, so a
 * thread that falls behind assembles exactly what an inline assembler would have.
 */
import type { AgentHello } from '../generated/koala/v1/agent.pb.js';
import type { Session } from '../generated/koala/v1/session.pb.js';
import type { LogLevelName } from '../config/options.js';
import type { AssemblyCoreOptions, AssemblyStats } from './assembly-core.js';

export interface AssemblyWorkerData {
  assembler: AssemblyCoreOptions['assembler'];
  storeDir: string | undefined;
  logLevel: LogLevelName | 'OFF';
  /** Nice value of the assembly thread (0 = as the gateway, 19 = only idle CPU). */
  nice: number;
}

export type ToWorker =
  | { t: 'hello'; link: number; hello: AgentHello; at: number }
  /** One undecoded AgentMessage{batch}, as the agent sent it. */
  | { t: 'batch'; link: number; frame: Uint8Array; at: number }
  | { t: 'gone'; link: number; at: number }
  | { t: 'tick'; at: number }
  /** Send sessions back (someone listens on the main thread). */
  | { t: 'forward'; on: boolean }
  | { t: 'flush'; id: number }
  | { t: 'close'; at: number };

export interface WorkerStats extends AssemblyStats {
  /** Batch bytes assembled so far: the main thread's backlog is what it sent minus this. */
  processedBytes: number;
  /** Where the assembly thread runs (nice value actually set, or undefined when it could not be). */
  nice: number | undefined;
}

export type FromWorker =
  | { t: 'ready'; stats: WorkerStats }
  | { t: 'failed'; code: string; message: string }
  | { t: 'progress'; stats: WorkerStats }
  | { t: 'sessions'; sessions: Session[]; stats: WorkerStats }
  | { t: 'log'; line: string }
  /** A batch from this link did not decode: the main thread ends the link. */
  | { t: 'malformed'; link: number; message: string }
  | { t: 'flushed'; id: number; stats: WorkerStats }
  | { t: 'closed'; stats: WorkerStats };
