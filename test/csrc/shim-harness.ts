// Test harness for the C shim: compiles tiny C programs, runs them under LD_PRELOAD against a
// fake gateway (a unix-socket net.Server that decodes frames with the generated AgentMessage).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  AddressFamily,
  AgentMessage,
  type Address,
  type AgentHello,
  type Event,
} from '../../src/generated/koala/v1/agent.pb.js';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
/** KOALA_TEST_SHIM runs the tests against another build of the shim (e.g. one built in /tmp). */
export const shimPath = process.env.KOALA_TEST_SHIM ?? join(repoRoot, 'build', 'Release', 'koala_shim.so');

/**
 * Bounds for a loaded machine (2 cores shared with Go compiles and benchmarks). Each wait ends as
 * soon as its condition holds, so only a real failure pays for it, and all fit in the tests' 30 s.
 *   EXIT_FLUSH_MS: the shim's exit flush (KOALA_EXIT_FLUSH_MS; 200 ms in production). A test
 *     program runs for microseconds, so this flush alone delivers its events; a starved writer
 *     thread may not even have connected within 200 ms. It ends early when everything is sent or
 *     the gateway is known absent.
 *   AGENT_WAIT_MS: the gateway side waiting for the agent's connection to deliver and close.
 */
export const EXIT_FLUSH_MS = 10000;
export const AGENT_WAIT_MS = 12000;
export const programsDir = join(here, 'programs');

/** Builds the shim once per test run if it is missing. */
export function ensureShim(): void {
  if (existsSync(shimPath)) return;
  if (process.env.KOALA_TEST_SHIM !== undefined) throw new Error(`KOALA_TEST_SHIM=${shimPath}: no such file`);
  const r = spawnSync(process.execPath, [join(repoRoot, 'csrc', 'build-shim.mjs')], { cwd: repoRoot, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`shim build failed:\n${r.stdout}\n${r.stderr}`);
}

export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), 'koala-shim-test-'));
  file(name: string): string {
    return join(this.path, name);
  }
  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

/** Compiles programs/<name>.c (plus extra sources/flags) into dir; returns the binary path. */
export function compile(dir: TempDir, name: string, extra: string[] = []): string {
  const out = dir.file(name);
  const r = spawnSync('cc', ['-std=gnu11', '-O1', '-Wall', '-Werror', '-o', out, join(programsDir, `${name}.c`), ...extra, '-lpthread'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`cc ${name}.c failed:\n${r.stderr}`);
  return out;
}

export interface AgentConn {
  hello: AgentHello;
  events: Event[];
  closed: boolean;
}

/** A stand-in gateway: accepts agent connections and decodes their frames. */
export class FakeGateway {
  readonly conns: AgentConn[] = [];
  private server: Server | undefined;
  private sockets = new Set<Socket>();

  constructor(readonly socketPath: string) {}

  async start(): Promise<void> {
    this.server = createServer((s) => this.accept(s));
    await new Promise<void>((ok, fail) => {
      this.server!.once('error', fail);
      this.server!.listen(this.socketPath, () => ok());
    });
  }

  private accept(s: Socket): void {
    this.sockets.add(s);
    let buf = Buffer.alloc(0);
    let conn: AgentConn | undefined;
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4) {
        const n = buf.readUInt32BE(0);
        if (buf.length < 4 + n) break;
        const msg = AgentMessage.decode(buf.subarray(4, 4 + n));
        buf = buf.subarray(4 + n);
        if (!conn) {
          if (msg.body?.$case !== 'hello') throw new Error('first frame is not a hello');
          conn = { hello: msg.body.value, events: [], closed: false };
          this.conns.push(conn);
        } else if (msg.body?.$case === 'batch') {
          conn.events.push(...msg.body.value.events);
        }
      }
    });
    s.on('close', () => {
      this.sockets.delete(s);
      if (conn) conn.closed = true;
    });
    s.on('error', () => {});
  }

  /** Events of every connection from pid, in arrival order. */
  eventsOf(pid: number): Event[] {
    return this.conns.filter((c) => c.hello.pid === pid).flatMap((c) => c.events);
  }

  async waitFor(pred: () => boolean, timeoutMs = AGENT_WAIT_MS, what = 'the agent'): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > end) {
        const seen = this.conns.map((c) => `pid ${c.hello.pid}: ${c.events.length} events${c.closed ? ', closed' : ''}`).join('; ') || 'no agent connection';
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${seen})`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server) await new Promise<void>((ok) => this.server!.close(() => ok()));
  }
}

export interface RunResult {
  pid: number;
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** key=value lines the program printed. */
  out: Record<string, string>;
}

export function shimEnv(socketPath: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LD_PRELOAD: shimPath,
    KOALA_AGENT_SOCKET: socketPath,
    KOALA_LOG_LEVEL: 'ERROR',
    KOALA_EXIT_FLUSH_MS: String(EXIT_FLUSH_MS),
    ...extra,
  };
}

/** Runs a program to completion (killed after timeoutMs). */
export function run(bin: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 15000): Promise<RunResult> {
  const started = Date.now();
  return new Promise((ok, fail) => {
    const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      const out: Record<string, string> = {};
      for (const line of stdout.split('\n')) {
        const m = /^([\w.-]+)=(.*)$/.exec(line);
        if (m) out[m[1]!] = m[2]!;
      }
      ok({ pid: child.pid ?? -1, code, stdout, stderr, ms: Date.now() - started, out });
    });
  });
}

export function fmtAddr(a: Address | undefined): string | undefined {
  if (!a) return undefined;
  switch (a.family) {
    case AddressFamily.ADDRESS_FAMILY_INET:
      return `${[...a.ip].join('.')}:${a.port}`;
    case AddressFamily.ADDRESS_FAMILY_INET6:
      return `[${Buffer.from(a.ip).toString('hex')}]:${a.port}`;
    case AddressFamily.ADDRESS_FAMILY_UNIX:
      return `unix:${a.path}`;
    default:
      return `family${a.family}`;
  }
}

/** All payload bytes of events of one kind on one connection, concatenated. */
export function bytesOn(events: Event[], kind: number, connId: bigint): Buffer {
  return Buffer.concat(events.filter((e) => e.kind === kind && e.connId === connId).map((e) => Buffer.from(e.payload)));
}

/** The gateway-side view of one run: starts the gateway, runs, waits for the agent to finish. */
export async function runRecorded(
  gw: FakeGateway,
  bin: string,
  args: string[] = [],
  extraEnv: Record<string, string> = {},
): Promise<{ res: RunResult; events: Event[] }> {
  const res = await run(bin, args, shimEnv(gw.socketPath, extraEnv));
  if (res.code !== 0) throw new Error(`${bin} exited ${res.code}:\n${res.stdout}\n${res.stderr}`);
  await gw.waitFor(() => gw.conns.some((c) => c.hello.pid === res.pid && c.closed), AGENT_WAIT_MS, `the agent of pid ${res.pid} to deliver and close`);
  return { res, events: gw.eventsOf(res.pid) };
}

/**
 * The fixture most shim test files share: a fresh temp dir and a started fake gateway for each
 * test, both removed after it. Call inside describe(); read `dir` and `gw` inside the tests.
 */
export function withFakeGateway(): { dir: TempDir; gw: FakeGateway } {
  const t = {} as { dir: TempDir; gw: FakeGateway };
  before(() => ensureShim());
  beforeEach(async () => {
    t.dir = new TempDir();
    t.gw = new FakeGateway(t.dir.file('agent.sock'));
    await t.gw.start();
  });
  afterEach(async () => {
    await t.gw.close();
    t.dir.remove();
  });
  return t;
}
