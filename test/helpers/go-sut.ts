import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goFlags } from '../../src/cli/go-build.js';
import type { Session } from '../../src/generated/koala/v1/session.pb.js';
import { startHttpDownstream, startLineDownstream, type HttpDownstream, type LineDownstream } from './downstream.js';
import { startMariaDb, type MariaDb } from './mariadb.js';
import type { TestGateway } from './gateway.js';
import { freePort } from './ports.js';
import { startRedis, type Redis } from './redis.js';
import { REPO_ROOT, startSut, type Downstreams, type Sut } from './sut.js';
import { waitFor } from './wait.js';

export const GO_SUT_DIR = join(REPO_ROOT, 'test', 'fixtures', 'go-sut');

/** hooked: -tags koala_go + the overlay; plain: a stock build of the same source. */
export type GoSutVariant = 'hooked' | 'plain';

const builds = new Map<GoSutVariant, Promise<string>>();
let buildDir: string | undefined;

/**
 * Builds the Go SUT once per test process and variant, into a temp dir removed at exit. The Go
 * build cache makes later runs fast; the first hooked build compiles the patched runtime and net.
 */
export function buildGoSut(variant: GoSutVariant = 'hooked'): Promise<string> {
  let p = builds.get(variant);
  if (!p) {
    p = doBuild(variant);
    builds.set(variant, p);
    // A failed build is not cached: the next caller gets a fresh attempt and the real error.
    p.catch(() => builds.delete(variant));
  }
  return p;
}

async function doBuild(variant: GoSutVariant): Promise<string> {
  if (!buildDir) {
    const dir = mkdtempSync(join(tmpdir(), 'koala-gosut-'));
    buildDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const bin = join(buildDir, `go-sut-${variant}`);
  const flags = variant === 'hooked' ? (await goFlags({ cwd: GO_SUT_DIR })).args : [];
  const r = spawnSync('go', ['build', ...flags, '-o', bin, '.'], {
    cwd: GO_SUT_DIR,
    encoding: 'utf8',
    timeout: 600_000,
    // The overlay is made for the Go on PATH: never let go.mod switch toolchains.
    env: { ...process.env, GOTOOLCHAIN: 'local' },
  });
  if (r.status !== 0) {
    throw new Error(`go build (${variant}) failed: ${r.error?.message ?? ''}${r.stderr}${r.stdout}`);
  }
  return bin;
}

export interface GoSutOptions {
  name?: string;
  /** The gateway's gRPC address; undefined points the agent at a port where nothing listens. */
  gatewayAddr?: string;
  downstreams?: Downstreams;
  env?: Record<string, string>;
}

/** Starts the Go SUT (no LD_PRELOAD: its agent is compiled in) and waits until it serves. */
export async function startGoSut(bin: string, opts: GoSutOptions = {}): Promise<Sut> {
  const gatewayAddr = opts.gatewayAddr ?? `127.0.0.1:${await freePort()}`;
  return startSut(bin, [], {
    name: opts.name ?? 'go-sut',
    shim: false,
    downstreams: opts.downstreams,
    env: { KOALA_AGENT_GRPC_ADDR: gatewayAddr, KOALA_LOG_LEVEL: 'WARN', ...opts.env },
  });
}

export interface RawResponse {
  status: number;
  body: string;
  /** The exact request bytes written. */
  sent: Buffer;
  /** The exact response bytes read (head and body). */
  received: Buffer;
}

/**
 * An HTTP/1.1 client on one TCP connection, requests one after another, keeping the exact bytes
 * both ways so a test can compare them with what was recorded.
 */
export class RawHttpClient {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private error: Error | undefined;

  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    const fail = (e: Error): void => {
      this.error ??= e;
      this.waiter?.();
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('connection closed by the SUT')));
  }

  static connect(port: number): Promise<RawHttpClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('error', reject);
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new RawHttpClient(s));
      });
    });
  }

  async get(path: string): Promise<RawResponse> {
    const sent = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: sut\r\nUser-Agent: koala-test\r\n\r\n`, 'latin1');
    this.sock.write(sent);
    for (;;) {
      const head = this.buf.indexOf('\r\n\r\n');
      if (head >= 0) {
        const headText = this.buf.subarray(0, head).toString('latin1');
        const len = /\r\ncontent-length: *(\d+)/i.exec(headText);
        if (!len) throw new Error(`response without content-length: ${headText}`);
        const end = head + 4 + Number(len[1]);
        if (this.buf.length >= end) {
          const received = Buffer.from(this.buf.subarray(0, end));
          this.buf = this.buf.subarray(end);
          return {
            status: Number(headText.split(' ')[1]),
            body: received.subarray(head + 4).toString('latin1'),
            sent,
            received,
          };
        }
      }
      if (this.error) throw this.error;
      await new Promise<void>((resolve) => (this.waiter = resolve));
      this.waiter = undefined;
    }
  }

  /** Closes the connection and waits until it is closed (the SUT then ends the last session). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.sock.destroyed) return resolve();
      this.sock.once('close', () => resolve());
      this.sock.end();
    });
  }
}

/** The dependencies every Go scenario uses, started once per suite. */
export interface GoDeps {
  http: HttpDownstream;
  line: LineDownstream;
  redis: Redis;
  mysql: MariaDb;
  downstreams: Downstreams;
  stop(): Promise<void>;
}

export async function startGoDeps(): Promise<GoDeps> {
  const [http, line, redis, mysql] = await Promise.all([
    startHttpDownstream(),
    startLineDownstream(),
    startRedis(),
    startMariaDb(),
  ]);
  return {
    http,
    line,
    redis,
    mysql,
    downstreams: {
      http: http.port,
      line: line.port,
      redis: redis.port,
      mysql: { port: mysql.port, user: mysql.user, password: mysql.password, database: mysql.database },
    },
    async stop() {
      await Promise.allSettled([http.close(), line.close(), redis.stop(), mysql.stop()]);
    },
  };
}

/** The token of a recorded session: the `token=` query parameter of its inbound request line. */
export function sessionToken(s: Session): string | undefined {
  const line = s.inbound?.request.toString('latin1').split('\r\n', 1)[0] ?? '';
  return /[?&]token=([^ &]+)/.exec(line)?.[1];
}

/** Tokens the tests use: "<tag>-<6 hex run id>-<n>". */
const TOKEN_RE = /\b[a-z0-9]+-[0-9a-f]{6}-\d+\b/g;

/** Tokens other than `token` that appear in the session's talks or preludes (should be none). */
export function foreignTokens(s: Session, token: string): string[] {
  const seen = new Set<string>();
  const talks = [...s.talks, ...s.preludes.flatMap((p) => p.talks)];
  for (const t of talks) {
    for (const m of (t.request.toString('latin1') + '\n' + t.response.toString('latin1')).matchAll(TOKEN_RE)) seen.add(m[0]);
  }
  seen.delete(token);
  return [...seen];
}

/** Waits until a Go agent is connected to the gateway (the agent connects in the background). */
export async function waitForGoAgent(gw: TestGateway, timeoutMs = 20_000): Promise<void> {
  await waitFor('a Go agent to connect', () => gw.stats().links.grpc >= 1, timeoutMs);
}
