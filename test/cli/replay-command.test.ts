/**
 * `koala replay` as a user runs it: sessions recorded from the C SUT into a store directory, then
 * `koala replay … STORE -- SUT` starts the SUT under the shim in replay mode, replays, writes the
 * reports and exits 0 (all pass) or 1 (a changed build).
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runKoala } from '../helpers/koala-cli.js';
import { freePort } from '../helpers/ports.js';
import { getRequest, oneShot, statusOf } from '../helpers/raw-http.js';
import { startScenarioEnv } from '../helpers/scenario-env.js';
import { buildCSut, startCSut, type Downstreams } from '../helpers/sut.js';
import { buildChangedCSut, startCanaries, type Canaries } from '../scenarios/replay-helpers.js';

const NAME = 'cli-replay-sut';

describe('koala replay', function () {
  this.timeout(120_000);
  let dir: string;
  let store: string;
  let downstreams: Downstreams = {};
  let canaries: Canaries | undefined;
  const cleanups: Array<() => void> = [];
  let bin = '';

  before(async function () {
    this.timeout(120_000);
    dir = await mkdtemp(join(tmpdir(), 'koala-cli-replay-'));
    const built = buildCSut('thread-per-conn');
    cleanups.push(built.cleanup);
    bin = built.bin;
    const env = await startScenarioEnv({ gateway: { storeDir: join(dir, 'store') } });
    try {
      const sut = await startCSut(bin, { name: NAME, agentSocket: env.gateway.agentSocket, downstreams: env.downstreams });
      env.suts.push(sut);
      for (const p of ['/hello?token=c1', '/fresh?token=c2', '/long?token=c3']) {
        expect(statusOf(await oneShot(sut.port, getRequest(p, { close: true })))).to.equal(200);
      }
      await env.gateway.waitForSessions(3, { filter: (s) => s.sut === NAME });
      await env.gateway.gateway.flush();
      downstreams = env.downstreams;
      store = join(dir, 'store');
    } finally {
      await env.stop();
    }
    canaries = await startCanaries([downstreams.http!, downstreams.line!], [downstreams.udp!]);
  });

  after(async () => {
    await canaries?.close();
    for (const c of cleanups) c();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const sutEnv = (): NodeJS.ProcessEnv => ({
    ...process.env,
    KOALA_TEST_HTTP_PORT: String(downstreams.http),
    KOALA_TEST_LINE_PORT: String(downstreams.line),
    KOALA_TEST_UDP_PORT: String(downstreams.udp),
  });

  async function replay(sutBin: string, extra: string[] = []) {
    const port = await freePort();
    const args = [
      'replay', '--sut', NAME, '--sut-addr', `127.0.0.1:${port}`, '--agent-socket', join(dir, `a-${port}.sock`),
      '--grpc-addr', '127.0.0.1:0', '--outbound-addr', '127.0.0.1:0', '--concurrency', '2', ...extra, store, '--', sutBin, String(port),
    ];
    return runKoala(args, { env: sutEnv(), timeoutMs: 60_000 });
  }

  it('replays every session of the SUT, writes both reports and exits 0', async () => {
    const json = join(dir, 'report.json');
    const junit = join(dir, 'report.xml');
    const r = await replay(bin, ['--report-json', json, '--report-junit', junit]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    const [ready, summary] = r.stdout.split('\n');
    expect(ready).to.match(/^koala replay ready mode=replay agent-socket=\S+ grpc=127\.0\.0\.1:\d+ outbound=127\.0\.0\.1:\d+ sessions=3$/);
    expect(summary).to.match(/^koala replay: 3\/3 sessions passed, 0 failed/);
    const report = JSON.parse(await readFile(json, 'utf8')) as { total: number; passed: number; sessions: Array<{ sut: string }> };
    expect(report.total).to.equal(3);
    expect(report.passed).to.equal(3);
    const xml = await readFile(junit, 'utf8');
    expect(xml.match(/<testcase /g)).to.have.lengthOf(3);
    expect(xml).to.not.include('<failure');
    // Not a TTY: one plain progress line per session.
    expect(r.stderr.match(/^\[\d\/3\] PASS /gm)).to.have.lengthOf(3);
    expect(canaries!.total()).to.equal(0);
  });

  it('exits 1 and names the change when the build changed', async () => {
    const changed = buildChangedCSut('thread-per-conn', ['KOALA_SUT_CHANGE_RESPONSE']);
    cleanups.push(changed.cleanup);
    const r = await replay(changed.bin);
    expect(r.code, r.stderr + r.stdout).to.equal(1);
    expect(r.stdout).to.match(/^koala replay: 2\/3 sessions passed, 1 failed/m);
    expect(r.stdout).to.match(/^FAIL .*\n\s+- response body differs at byte 1: "ello c1/m);
  });

  it('exits 2 on usage mistakes and 1 when there is nothing to replay', async () => {
    const none = await runKoala(['replay']);
    expect(none.code).to.equal(2);
    expect(none.stderr).to.include('STORE_PATH');
    const bad = await runKoala(['replay', '--concurrency', '0', store]);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include('--concurrency');
    const fail = await runKoala(['replay', '--match-fail', 'maybe', store]);
    expect(fail.code).to.equal(2);
    const empty = await runKoala(['replay', '--sut', 'nobody', '--agent-socket', join(dir, 'x.sock'), store]);
    expect(empty.code).to.equal(1);
    expect(empty.stderr).to.include('no sessions of SUT nobody');
  });
});
