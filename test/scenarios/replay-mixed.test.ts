/**
 * S10 (mixed): a Go SUT (its agent compiled in, gRPC) and a C SUT (thread per connection, under
 * the shim) recorded at once by ONE gateway; then ONE `koala replay` run (the CLI, --sut-map per
 * SUT, --wait-agent both, concurrency 8) replays both SUTs' sessions against fresh processes whose
 * agents run in replay mode, with every dependency stopped and canaries on their ports. The JSON
 * and JUnit reports are read back and checked.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import PQueue from 'p-queue';
import type { Session } from '../../src/index.js';
import { RawHttpClient, sessionToken, startGoSut, waitForGoAgent } from '../helpers/go-sut.js';
import { collect, spawnKoala } from '../helpers/koala-cli.js';
import { freePort } from '../helpers/ports.js';
import { getRequest, oneShot, statusOf } from '../helpers/raw-http.js';
import { startScenarioEnv } from '../helpers/scenario-env.js';
import { buildCSut, startCSut, startSut, type Downstreams, type Sut } from '../helpers/sut.js';
import { startCanaries, type Canaries } from './replay-helpers.js';
import { buildGoSutWith, REPLAY_TAGS } from './replay-go-sut.js';

const GO = 'go-mixed';
const C = 'c-mixed';
const run = randomBytes(3).toString('hex');

interface JsonReport {
  total: number;
  passed: number;
  failed: number;
  sessions: Array<{ sessionId: string; sut: string; verdict: { pass: boolean; reasons: string[] }; outboundCalls: number }>;
}

describe('replay S10: a Go and a C SUT recorded by one gateway, replayed by one koala replay run', function () {
  this.timeout(300_000);
  const dir = mkdtempSync(join(tmpdir(), 'koala-mixed-'));
  const store = join(dir, 'store');
  const cleanups: Array<() => void> = [() => rmSync(dir, { recursive: true, force: true })];
  let recorded: Session[] = [];
  let downstreams: Downstreams = {};
  let goBin = '';
  let cBin = '';

  const goPaths = [
    ...Array.from({ length: 6 }, (_, i) => `/fanout?token=gm-${run}-${i}`),
    ...Array.from({ length: 4 }, (_, i) => `/pool?token=gp-${run}-${i}`),
    ...Array.from({ length: 3 }, (_, i) => `/long?token=gl-${run}-${i}`),
    `/oneway?token=go-${run}-0`,
    `/pipeline?token=gs-${run}-0`,
  ];
  const cPaths = [
    ...Array.from({ length: 3 }, (_, i) => `/hello?token=ch-${run}-${i}`),
    ...Array.from({ length: 3 }, (_, i) => `/all?token=ca-${run}-${i}`),
    ...Array.from({ length: 3 }, (_, i) => `/redis?token=cr-${run}-${i}`),
    ...Array.from({ length: 2 }, (_, i) => `/long?token=cl-${run}-${i}`),
    `/oneway?token=co-${run}-0`,
    `/pipeline?token=cs-${run}-0`,
    `/udp?token=cu-${run}-0`,
  ];

  before(async function () {
    this.timeout(900_000);
    const [go, c] = await Promise.all([buildGoSutWith(REPLAY_TAGS), Promise.resolve(buildCSut('thread-per-conn'))]);
    cleanups.push(go.cleanup, c.cleanup);
    goBin = go.bin;
    cBin = c.bin;
    const env = await startScenarioEnv({ redis: true, mariadb: true });
    try {
      const goSut = await startGoSut(goBin, { name: GO, gatewayAddr: env.gateway.gateway.agentGrpcAddr, downstreams: env.downstreams, env: { KOALA_MODE: 'record' } });
      env.suts.push(goSut);
      const cSut = await startCSut(cBin, { name: C, agentSocket: env.gateway.agentSocket, downstreams: env.downstreams });
      env.suts.push(cSut);
      await waitForGoAgent(env.gateway);
      for (const p of goPaths.filter((x) => x.startsWith('/fanout'))) {
        const t = /token=([^&]+)/.exec(p)![1]!;
        await env.redis!.command('SET', `key:${t}`, `val-${t}`);
      }
      // Both SUTs at once, interleaved: one gateway, a gRPC and a shim agent.
      const queue = new PQueue({ concurrency: 6 });
      const jobs = [
        ...goPaths.map((p) => async () => {
          const conn = await RawHttpClient.connect(goSut.port);
          try {
            const r = await conn.get(p);
            expect(r.status, `${GO} ${p}: ${r.body}`).to.equal(200);
          } finally {
            await conn.close();
          }
        }),
        ...cPaths.map((p) => async () => {
          const res = await oneShot(cSut.port, getRequest(p, { close: true }));
          expect(statusOf(res), `${C} ${p}: ${res.toString('latin1', 0, 200)}`).to.equal(200);
        }),
      ];
      // The /long and /oneway talks share one connection per SUT: run those one at a time.
      const serial = (p: string): boolean => p.startsWith('/long') || p.startsWith('/oneway');
      const paths = [...goPaths, ...cPaths];
      await Promise.all(jobs.map((j, i) => (serial(paths[i]!) ? undefined : queue.add(j))));
      for (const [i, j] of jobs.entries()) if (serial(paths[i]!)) await j();
      const all = await env.gateway.waitForSessions(goPaths.length + cPaths.length, {
        filter: (s) => (s.sut === GO || s.sut === C) && (sessionToken(s) ?? '').includes(run),
      });
      recorded = all;
      await env.gateway.readStore(); // flushes the store
      cpSync(env.gateway.storeDir, store, { recursive: true });
      downstreams = env.downstreams;
    } finally {
      await env.stop();
    }
  });

  after(() => {
    for (const c of cleanups) c();
  });

  it('one gateway recorded both SUTs', () => {
    expect(recorded.filter((s) => s.sut === GO)).to.have.lengthOf(goPaths.length);
    expect(recorded.filter((s) => s.sut === C)).to.have.lengthOf(cPaths.length);
    expect(new Set(recorded.map((s) => s.pid)).size).to.equal(2);
  });

  it('one koala replay run replays both SUTs at concurrency 8: all pass, reports written, no dependency reached', async () => {
    const canaries: Canaries = await startCanaries(
      [downstreams.http!, downstreams.line!, downstreams.redis!, downstreams.mysql!.port],
      [downstreams.udp!],
    );
    const suts: Sut[] = [];
    const json = join(dir, 'report.json');
    const junit = join(dir, 'report.xml');
    const [goPort, cPort] = [await freePort(), await freePort()];
    const t0 = Date.now();
    const koala = spawnKoala([
      'replay',
      '--sut-map', `${GO}=127.0.0.1:${goPort}`,
      '--sut-map', `${C}=127.0.0.1:${cPort}`,
      '--wait-agent', GO,
      '--wait-agent', C,
      '--concurrency', '8',
      '--report-json', json,
      '--report-junit', junit,
      '--agent-socket', join(dir, 'replay-agent.sock'),
      '--grpc-addr', '127.0.0.1:0',
      '--outbound-addr', '127.0.0.1:0',
      '--wait-timeout', '60000',
      store,
    ], { env: { ...process.env, KOALA_LOG_LEVEL: 'WARN' } });
    const done = collect(koala, 240_000);
    try {
      const ready = await readyLine(koala);
      const m = /^koala replay ready mode=replay agent-socket=(\S+) grpc=(\S+) outbound=(\S+) sessions=(\d+)$/.exec(ready);
      expect(m, ready).to.not.equal(null);
      const [, agentSocket, grpc, outbound, count] = m!;
      expect(Number(count)).to.equal(recorded.length);
      const replayEnv = { KOALA_MODE: 'replay', KOALA_OUTBOUND_ADDR: outbound! };
      suts.push(await startGoSut(goBin, { name: GO, gatewayAddr: grpc, downstreams, env: { ...replayEnv, KOALA_TEST_LISTEN: `127.0.0.1:${goPort}` } }));
      suts.push(await startSut(cBin, [String(cPort)], { name: C, agentSocket, downstreams, env: replayEnv }));
      const r = await done;
      console.log(`      koala replay of ${recorded.length} sessions (2 SUTs) took ${Date.now() - t0} ms`);
      expect(r.code, `exit code\nstdout:\n${r.stdout}\nstderr:\n${r.stderr.slice(-4000)}`).to.equal(0);
      expect(r.stdout).to.include(`koala replay: ${recorded.length}/${recorded.length} sessions passed, 0 failed`);

      const report = JSON.parse(readFileSync(json, 'utf8')) as JsonReport;
      expect(report.total).to.equal(recorded.length);
      expect(report.passed).to.equal(recorded.length);
      expect(report.failed).to.equal(0);
      expect(report.sessions.filter((s) => s.sut === GO)).to.have.lengthOf(goPaths.length);
      expect(report.sessions.filter((s) => s.sut === C)).to.have.lengthOf(cPaths.length);
      expect(new Set(report.sessions.map((s) => s.sessionId))).to.deep.equal(new Set(recorded.map((s) => s.id)));
      for (const s of report.sessions) expect(s.verdict.reasons, s.sessionId).to.deep.equal([]);
      // /fanout: HTTP, Redis GET and MySQL (plus connection setup where the pool opened one).
      expect(report.sessions.filter((s) => s.sut === GO).reduce((n, s) => n + s.outboundCalls, 0)).to.be.at.least(6 * 3 + 4 + 3 + 2 + 1);

      const xml = readFileSync(junit, 'utf8');
      const cases = [...xml.matchAll(/<testcase [^>]*classname="([^"]+)"[^>]*name="([^"]+)"/g)];
      expect(cases).to.have.lengthOf(recorded.length);
      expect(cases.filter((c) => c[1] === GO)).to.have.lengthOf(goPaths.length);
      expect(cases.filter((c) => c[1] === C)).to.have.lengthOf(cPaths.length);
      expect(xml).to.not.include('<failure');

      expect(canaries.total(), JSON.stringify(canaries.hits())).to.equal(0);
    } finally {
      koala.kill('SIGTERM');
      await done.catch(() => undefined);
      await Promise.allSettled(suts.map((s) => s.stop()));
      await canaries.close();
    }
  });
});

/** The first stdout line of `koala replay` (its ready line). */
function readyLine(child: ReturnType<typeof spawnKoala>, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no ready line within ${timeoutMs} ms: ${out}`)), timeoutMs);
    const onData = (d: Buffer | string): void => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      resolve(out.slice(0, nl));
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`koala replay exited (${code}) before its ready line: ${out}`));
    });
  });
}
