import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger, readSessions, startGateway, type Gateway, type GatewayOptions, type GatewayStats } from '../../src/index.js';
import type { Session } from '../../src/generated/koala/v1/session.pb.js';
import { waitFor } from './wait.js';

export type { Session };

export interface TestGateway {
  readonly gateway: Gateway;
  readonly dir: string;
  readonly storeDir: string;
  readonly agentSocket: string;
  /** Sessions emitted so far, in emission order. */
  readonly sessions: Session[];
  /** Log lines the gateway wrote (level DEBUG and up). */
  readonly logs: string[];
  /** Waits until at least `n` sessions matching `filter` were emitted; returns them. */
  waitForSessions(n: number, opts?: { timeoutMs?: number; filter?: (s: Session) => boolean }): Promise<Session[]>;
  /** Every session in the store, read back with readSessions. */
  readStore(): Promise<Session[]>;
  stats(): GatewayStats;
  /** Closes the gateway (flushing the store); removes the temp dir unless `keep`. Idempotent. */
  close(opts?: { keep?: boolean }): Promise<void>;
}

/** An in-process record-mode gateway with its store and agent socket in a fresh temp dir. */
export async function startTestGateway(opts: GatewayOptions = {}): Promise<TestGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'koala-gw-'));
  const storeDir = join(dir, 'store');
  const logs: string[] = [];
  const logger = Logger.create({ level: 'DEBUG', destination: { write: (l) => void logs.push(l), close: () => undefined } });
  const gateway = await startGateway({
    mode: 'record',
    storeDir,
    agentSocket: join(dir, 'agent.sock'),
    agentGrpcAddr: '127.0.0.1:0',
    logger,
    ...opts,
  });
  const sessions: Session[] = [];
  gateway.on('session', (s) => void sessions.push(s));
  let closing: Promise<void> | undefined;
  return {
    gateway,
    dir,
    storeDir,
    agentSocket: gateway.agentSocket,
    sessions,
    logs,
    async waitForSessions(n, { timeoutMs = 20_000, filter = () => true } = {}) {
      return waitFor(
        `${n} sessions (have ${sessions.filter(filter).length})`,
        () => {
          const got = sessions.filter(filter);
          return got.length >= n ? got : undefined;
        },
        timeoutMs,
      );
    },
    async readStore() {
      await gateway.flush();
      const all: Session[] = [];
      for await (const r of readSessions([storeDir])) {
        if ('error' in r) throw new Error(`bad store line ${r.file}:${r.line}: ${r.error.message}`);
        all.push(r.session);
      }
      return all;
    },
    stats: () => gateway.stats(),
    async close(o = {}) {
      closing ??= gateway.close();
      await closing;
      if (!o.keep) await rm(dir, { recursive: true, force: true });
    },
  };
}
