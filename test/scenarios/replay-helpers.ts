/**
 * Replay side of the scenarios: an in-process replay gateway, canaries listening where the
 * recorded dependencies were (they must see nothing), and a SUT started under the shim in replay
 * mode.
 */
import { spawnSync } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import PQueue from 'p-queue';
import { Logger, startGateway, type Gateway, type GatewayOptions } from '../../src/index.js';
import type { Session } from '../../src/generated/koala/v1/session.pb.js';
import type { SessionResult } from '../../src/replay/replay-engine.js';
import { buildRunReport } from '../../src/replay/report/run-report.js';
import { toTextReport } from '../../src/replay/report/text-report.js';
import { REPO_ROOT, startCSut, startPySut, type CSutKind, type Downstreams, type Sut } from '../helpers/sut.js';

export interface ReplayGateway {
  gateway: Gateway;
  dir: string;
  agentSocket: string;
  outboundAddr: string;
  logs: string[];
  close(): Promise<void>;
}

export async function startReplayGateway(opts: GatewayOptions = {}): Promise<ReplayGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'koala-replay-'));
  const logs: string[] = [];
  const logger = Logger.create({ level: 'DEBUG', destination: { write: (l) => void logs.push(l), close: () => undefined } });
  const gateway = await startGateway({
    mode: 'replay',
    agentSocket: join(dir, 'agent.sock'),
    agentGrpcAddr: '127.0.0.1:0',
    outboundAddr: '127.0.0.1:0',
    inboundAddr: '127.0.0.1:0',
    logger,
    ...opts,
  });
  let closing: Promise<void> | undefined;
  return {
    gateway,
    dir,
    agentSocket: gateway.agentSocket,
    outboundAddr: gateway.outboundAddr ?? '',
    logs,
    async close() {
      closing ??= gateway.close().then(() => rm(dir, { recursive: true, force: true }));
      await closing;
    },
  };
}

/** Servers at the recorded dependencies' addresses: during replay they must count zero. */
export interface Canaries {
  /** TCP connections accepted plus datagrams received, by port. */
  hits(): Record<number, number>;
  total(): number;
  close(): Promise<void>;
}

export async function startCanaries(tcpPorts: number[], udpPorts: number[] = []): Promise<Canaries> {
  const counts: Record<number, number> = {};
  const servers: Server[] = [];
  const udps: UdpSocket[] = [];
  const sockets = new Set<Socket>();
  for (const port of tcpPorts) {
    counts[port] = 0;
    const srv = createServer((s) => {
      counts[port] = (counts[port] ?? 0) + 1;
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    });
    await listenRetrying(srv, port);
    servers.push(srv);
  }
  for (const port of udpPorts) {
    counts[port] = 0;
    const u = createSocket('udp4');
    u.on('message', () => (counts[port] = (counts[port] ?? 0) + 1));
    await new Promise<void>((resolve, reject) => {
      u.once('error', reject);
      u.bind(port, '127.0.0.1', () => resolve());
    });
    udps.push(u);
  }
  return {
    hits: () => ({ ...counts }),
    total: () => Object.values(counts).reduce((a, b) => a + b, 0),
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      await Promise.all(udps.map((u) => new Promise<void>((r) => u.close(() => r()))));
    },
  };
}

/** A dependency just stopped may hold its port a moment (TIME_WAIT is fine, a slow exit is not). */
async function listenRetrying(srv: Server, port: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(port, '127.0.0.1', () => {
          srv.off('error', reject);
          resolve();
        });
      });
      return;
    } catch (err) {
      if (attempt >= 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Starts a SUT under the shim in replay mode, its downstream addresses the recorded ones. */
export function startReplaySut(
  kind: { c: string } | 'py',
  name: string,
  rg: ReplayGateway,
  downstreams: Downstreams,
  mode: 'replay' | 'record+replay' = 'replay',
): Promise<Sut> {
  const opts = {
    name,
    agentSocket: rg.agentSocket,
    downstreams,
    env: { KOALA_MODE: mode, KOALA_OUTBOUND_ADDR: rg.outboundAddr },
  };
  return kind === 'py' ? startPySut(opts) : startCSut(kind.c, opts);
}

/** Waits until an agent with SUT name `name` is connected (its events reach the gateway). */
export async function waitForAgent(gw: Gateway, name: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!gw.agentNames().includes(name)) {
    if (Date.now() > deadline) throw new Error(`no agent named ${name} connected (have ${gw.agentNames().join(', ')})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function replayAll(gw: Gateway, sessions: readonly Session[], sutPort: number, concurrency = 4): Promise<SessionResult[]> {
  const queue = new PQueue({ concurrency });
  const results = await Promise.all(sessions.map((s) => queue.add(() => gw.replaySession(s, { sut: { host: '127.0.0.1', port: sutPort } }))));
  return results.filter((r): r is SessionResult => r !== undefined);
}

/** The text report of failed sessions (for assertion messages). */
export function failures(results: readonly SessionResult[]): string {
  const failed = results.filter((r) => !r.verdict.pass);
  return failed.length === 0 ? '' : toTextReport(buildRunReport(failed, Date.now()));
}

/**
 * The C SUT compiled with extra -D flags: the "changed builds" a replay must catch
 * (KOALA_SUT_CHANGE_RESPONSE, KOALA_SUT_CHANGE_DOWNSTREAM, KOALA_SUT_EXTRA_CALL in handlers.c).
 */
export function buildChangedCSut(kind: CSutKind, defines: string[]): { bin: string; cleanup(): void } {
  const src = join(REPO_ROOT, 'test', 'fixtures', 'c-sut');
  const dir = mkdtempSync(join(tmpdir(), 'koala-csut-changed-'));
  const bin = join(dir, kind);
  const shared = readdirSync(src).filter((f) => f.endsWith('.c') && !f.startsWith('main-')).map((f) => join(src, f));
  const r = spawnSync(
    'cc',
    ['-std=c11', '-Wall', '-Wextra', '-Werror', '-O1', '-g', '-D_GNU_SOURCE', '-pthread', ...defines.map((d) => `-D${d}`), '-o', bin, join(src, `main-${kind}.c`), ...shared],
    { encoding: 'utf8', timeout: 120_000 },
  );
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`cc failed for ${kind} ${defines.join(' ')}: ${r.stderr}`);
  }
  return { bin, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
