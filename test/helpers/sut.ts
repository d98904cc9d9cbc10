import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnChild, waitForLine, type Child } from './process.js';
import { waitForPort } from './wait.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHIM_PATH = join(REPO_ROOT, 'build', 'Release', 'koala_shim.so');
const C_SUT_DIR = join(REPO_ROOT, 'test', 'fixtures', 'c-sut');
export const PY_SUT = join(REPO_ROOT, 'test', 'fixtures', 'py-sut', 'server.py');

/** Where a SUT finds its downstreams (all on 127.0.0.1); passed as KOALA_TEST_* env vars. */
export interface Downstreams {
  http?: number;
  redis?: number;
  line?: number;
  udp?: number;
  mysql?: { port: number; user: string; password: string; database: string };
}

export interface Sut {
  readonly child: Child;
  readonly pid: number;
  readonly port: number;
  /** SIGTERM, then the exit code (SIGKILL after a grace period). */
  stop(): Promise<number>;
}

export interface SutOptions {
  /** Session name the shim reports (KOALA_SUT_NAME). */
  name: string;
  /** The gateway's shim socket; when undefined the shim is still loaded but finds no gateway. */
  agentSocket?: string;
  /** false: run without LD_PRELOAD at all. */
  shim?: boolean;
  downstreams?: Downstreams;
  env?: Record<string, string>;
}

function downstreamEnv(d: Downstreams = {}): Record<string, string> {
  const env: Record<string, string> = {};
  if (d.http) env.KOALA_TEST_HTTP_PORT = String(d.http);
  if (d.redis) env.KOALA_TEST_REDIS_PORT = String(d.redis);
  if (d.line) env.KOALA_TEST_LINE_PORT = String(d.line);
  if (d.udp) env.KOALA_TEST_UDP_PORT = String(d.udp);
  if (d.mysql) {
    env.KOALA_TEST_MYSQL_PORT = String(d.mysql.port);
    env.KOALA_TEST_MYSQL_USER = d.mysql.user;
    env.KOALA_TEST_MYSQL_PASSWORD = d.mysql.password;
    env.KOALA_TEST_MYSQL_DATABASE = d.mysql.database;
  }
  return env;
}

/**
 * Spawns a SUT (argv = cmd + args; it must print "listening <port>" once it accepts) with the shim
 * preloaded, and waits until its port accepts connections.
 */
export async function startSut(cmd: string, args: string[], opts: SutOptions): Promise<Sut> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...downstreamEnv(opts.downstreams), ...opts.env };
  delete env.LD_PRELOAD;
  env.KOALA_SUT_NAME = opts.name;
  if (opts.shim !== false) {
    if (!existsSync(SHIM_PATH)) throw new Error(`shim not built: ${SHIM_PATH} (run node csrc/build-shim.mjs)`);
    env.LD_PRELOAD = SHIM_PATH;
  }
  // An absent socket must not fall back to a real gateway's default path.
  env.KOALA_AGENT_SOCKET = opts.agentSocket ?? join(tmpdir(), `koala-no-gateway-${process.pid}.sock`);
  const child = spawnChild(cmd, args, { env });
  const m = await waitForLine(child, /^listening (\d+)$/, 20_000).catch(async (err: unknown) => {
    await child.stop('SIGKILL');
    throw err;
  });
  const port = Number(m[1]);
  await waitForPort('127.0.0.1', port);
  return { child, pid: child.pid, port, stop: () => child.stop('SIGTERM', 10_000) };
}

export type CSutKind = 'thread-per-conn' | 'worker-pool';

/** Compiles one C SUT into a fresh temp dir (C11, -Wall -Wextra -Werror, pthreads); returns the binary. */
export function buildCSut(kind: CSutKind): { bin: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'koala-csut-'));
  const bin = join(dir, kind);
  const shared = readdirSync(C_SUT_DIR).filter((f) => f.endsWith('.c') && !f.startsWith('main-'));
  const sources = [join(C_SUT_DIR, `main-${kind}.c`), ...shared.map((f) => join(C_SUT_DIR, f))];
  const r = spawnSync(
    'cc',
    ['-std=c11', '-Wall', '-Wextra', '-Werror', '-O1', '-g', '-D_GNU_SOURCE', '-pthread', '-o', bin, ...sources],
    { encoding: 'utf8', timeout: 120_000 },
  );
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`cc failed for ${kind}: ${r.stderr}`);
  }
  return { bin, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function startCSut(bin: string, opts: SutOptions): Promise<Sut> {
  return startSut(bin, ['0'], opts);
}

export function startPySut(opts: SutOptions): Promise<Sut> {
  return startSut('python3', ['-u', PY_SUT, '0'], opts);
}
