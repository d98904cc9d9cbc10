/**
 * S12: bad input and faults. The SUT is unaffected by a missing or killed gateway; garbage on the
 * agent socket drops only that connection, with a logged reason; a malformed store line is
 * reported and skipped by `koala sessions list`.
 */
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { AgentMessage, Session, encodeSessionLine, readSessions } from '../../src/index.js';
import { runKoala, spawnKoala, waitForReady } from '../helpers/koala-cli.js';
import { bodyOf, getRequest, oneShot, statusOf } from '../helpers/raw-http.js';
import { startScenarioEnv, type ScenarioEnv } from '../helpers/scenario-env.js';
import { sessionWith } from '../helpers/session-assert.js';
import { buildCSut, startCSut, startPySut, type Sut } from '../helpers/sut.js';
import { waitFor } from '../helpers/wait.js';

/** Paths every SUT serves and what each answers, for the "SUT unaffected" checks. */
const C_CHECKS: Array<[string, (t: string) => string | RegExp]> = [
  ['/hello', (t) => `hello ${t}\n`],
  ['/long', (t) => `echo:${t}\n`],
  ['/fresh', (t) => `echo:${t}\n`],
  ['/redis', () => '$-1\r\n'],
  ['/oneway', (t) => `echo req ${t}\n`],
  ['/udp', (t) => `sent hits.${t}:1|c\n`],
  ['/interleave', (t) => `echo ${t}-b\necho:${t}-a\n`],
];
const PY_CHECKS: Array<[string, (t: string) => string | RegExp]> = [
  ['/hello', (t) => `hello ${t}\n`],
  ['/redis', () => '$-1\r\n'],
  ['/oneway', (t) => `echo req ${t}\n`],
  ['/udp', (t) => `sent hits.${t}:1|c\n`],
];

async function exercise(sut: Sut, checks: typeof C_CHECKS, prefix: string, rounds = 3): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    for (const [path, want] of checks) {
      const t = `${prefix}-${r}-${path.slice(1)}`;
      const res = await oneShot(sut.port, getRequest(`${path}?token=${t}`, { close: true }));
      expect(statusOf(res), `${path}: ${res.toString('latin1')}`).to.equal(200);
      expect(bodyOf(res).toString('latin1'), path).to.equal(want(t));
    }
  }
}

describe('S12: bad input and faults', function () {
  this.timeout(120_000);
  let env: ScenarioEnv;
  let bin: { bin: string; cleanup(): void };
  const extra: Array<() => Promise<unknown>> = [];

  before(async function () {
    this.timeout(120_000);
    bin = buildCSut('thread-per-conn');
    env = await startScenarioEnv({ redis: true, gateway: { maxFrameBytes: 1024 * 1024 } });
  });

  after(async function () {
    this.timeout(60_000);
    await Promise.allSettled(extra.map((f) => f()));
    await env?.stop();
    bin?.cleanup();
  });

  it('C SUT under the shim serves everything and exits 0 when no gateway exists', async () => {
    const sut = await startCSut(bin.bin, { name: 'no-gw-c', downstreams: env.downstreams });
    env.suts.push(sut);
    await exercise(sut, C_CHECKS, 'nogw-c');
    expect(await sut.stop(), `exit code; stderr: ${sut.child.stderr()}`).to.equal(0);
  });

  it('Python SUT under the shim serves everything and exits 0 when no gateway exists', async () => {
    const sut = await startPySut({ name: 'no-gw-py', downstreams: env.downstreams });
    env.suts.push(sut);
    await exercise(sut, PY_CHECKS, 'nogw-py');
    expect(await sut.stop(), `exit code; stderr: ${sut.child.stderr()}`).to.equal(0);
  });

  it('the SUT keeps serving when the gateway (koala gateway, a child process) is SIGKILLed mid-run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'koala-cli-gw-'));
    extra.push(() => rm(dir, { recursive: true, force: true }));
    const store = join(dir, 'store');
    const gw: ChildProcess = spawnKoala(['gateway', '--mode', 'record', '--store', store, '--agent-socket', join(dir, 'agent.sock'), '--grpc-addr', '127.0.0.1:0']);
    extra.push(async () => void gw.kill('SIGKILL'));
    const ready = await waitForReady(gw);
    const sut = await startCSut(bin.bin, { name: 'gw-killed', agentSocket: ready.agentSocket, downstreams: env.downstreams });
    env.suts.push(sut);
    await exercise(sut, C_CHECKS, 'before-kill', 1);
    // Sessions ended by the client's close are stored promptly; give the gateway a moment.
    const storedBefore = await waitFor(
      'sessions stored before the kill',
      async () => {
        const got: Session[] = [];
        for await (const r of readSessions([store])) if ('session' in r) got.push(r.session);
        return got.length >= C_CHECKS.length ? got : undefined;
      },
      15_000,
      200,
    );
    gw.kill('SIGKILL');
    await new Promise((resolve) => gw.once('exit', resolve));
    await exercise(sut, C_CHECKS, 'after-kill', 2);
    expect(sut.child.proc.exitCode, 'SUT still running').to.equal(null);
    // Nothing already stored is lost.
    const after: Session[] = [];
    for await (const r of readSessions([store])) if ('session' in r) after.push(r.session);
    expect(after.map((s) => s.id)).to.include.members(storedBefore.map((s) => s.id));
    sessionWith(after, 'token=before-kill-0-hello ');
    expect(await sut.stop(), `exit code; stderr: ${sut.child.stderr()}`).to.equal(0);
  });

  describe('garbage on the agent socket', () => {
    let sut: Sut;
    before(async () => {
      sut = await startCSut(bin.bin, { name: 'garbage-bystander', agentSocket: env.gateway.agentSocket, downstreams: env.downstreams });
      env.suts.push(sut);
    });

    const frame = (len: number, body: Buffer): Buffer => {
      const h = Buffer.alloc(4);
      h.writeUInt32BE(len);
      return Buffer.concat([h, body]);
    };
    const notHello = AgentMessage.encode(AgentMessage.fromPartial({ body: { $case: 'batch', value: { events: [] } } })).finish();
    const cases: Array<[string, Buffer, boolean, RegExp]> = [
      ['a frame that does not decode', frame(12, Buffer.alloc(12, 0xff)), false, /MALFORMED|decode/i],
      ['an oversized frame', frame(0x7fffffff, Buffer.alloc(64, 1)), false, /TOO_LARGE|too large|limit/i],
      ['a first frame that is not a hello', frame(notHello.length, Buffer.from(notHello)), false, /hello/i],
      ['a truncated frame', frame(1000, Buffer.alloc(10, 7)), true, /truncat|middle of a frame|incomplete|partial/i],
    ];

    for (const [what, bytes, endAfter, reasonPattern] of cases) {
      it(`${what} drops that connection with a logged reason; another SUT keeps recording`, async () => {
        const logsBefore = env.gateway.logs.length;
        const s = connect(env.gateway.agentSocket);
        const closed = new Promise<void>((resolve) => s.on('close', () => resolve()));
        s.on('error', () => undefined);
        s.on('data', () => undefined);
        await new Promise<void>((resolve) => s.once('connect', () => resolve()));
        s.write(bytes);
        if (endAfter) s.end();
        await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('gateway kept the connection open')), 10_000))]);
        const reason = await waitFor(
          'a log line with the drop reason',
          () => env.gateway.logs.slice(logsBefore).find((l) => /WARN .*dropping shim agent connection.* reason=\S/.test(l)),
          5_000,
        );
        expect(reason).to.match(reasonPattern);
        const t = `bystander-${cases.findIndex((c) => c[0] === what)}`;
        const res = await oneShot(sut.port, getRequest(`/long?token=${t}`, { close: false }));
        expect(bodyOf(res).toString()).to.equal(`echo:${t}\n`);
        const [session] = await env.gateway.waitForSessions(1, { filter: (x) => x.sut === 'garbage-bystander' && x.inbound!.request.includes(`token=${t} `) });
        expect(session!.talks).to.have.lengthOf(1);
        expect(session!.talks[0]!.peer?.port).to.equal(env.http.port);
      });
    }

    it('garbage on the gRPC port closes that connection; the gateway keeps recording', async () => {
      const [host, port] = env.gateway.gateway.agentGrpcAddr.split(/:(?=\d+$)/);
      const s = connect({ host: host!, port: Number(port) });
      s.on('error', () => undefined);
      s.on('data', () => undefined);
      const closed = new Promise<void>((resolve) => s.on('close', () => resolve()));
      await new Promise<void>((resolve) => s.once('connect', () => resolve()));
      s.write(Buffer.concat([Buffer.from('GARBAGE * HTTP/9.9\r\n\r\n'), Buffer.alloc(4096, 0xfe)]));
      await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('gRPC port kept the garbage connection open')), 10_000))]);
      const res = await oneShot(sut.port, getRequest('/long?token=bystander-grpc'));
      expect(bodyOf(res).toString()).to.equal('echo:bystander-grpc\n');
      const [session] = await env.gateway.waitForSessions(1, { filter: (x) => x.sut === 'garbage-bystander' && x.inbound!.request.includes('token=bystander-grpc ') });
      expect(session!.talks).to.have.lengthOf(1);
    });

    it('counts the bad frames', () => {
      expect(env.gateway.stats().badFrames).to.be.at.least(2);
    });
  });

  it('koala sessions list reports a malformed store line and lists the others', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'koala-badstore-'));
    extra.push(() => rm(dir, { recursive: true, force: true }));
    const mk = (id: string): Session => Session.fromPartial({ id, sut: 'bad-store', pid: 1, startedNs: 1n, endedNs: 2n, inbound: { request: Buffer.from(`GET /${id} HTTP/1.1\r\n\r\n`) } });
    const lines = [encodeSessionLine(mk('good-one')), '{"this is": not json\n', encodeSessionLine(mk('good-two'))].map((l) => (l.endsWith('\n') ? l : `${l}\n`));
    await writeFile(join(dir, 'sessions.jsonl'), lines.join(''));
    const r = await runKoala(['sessions', 'list', dir]);
    expect(r.code, r.stderr).to.equal(0);
    const out = r.stdout.trim().split('\n');
    expect(out).to.have.lengthOf(2);
    expect(out[0]).to.include('good-one');
    expect(out[1]).to.include('good-two');
    expect(r.stderr).to.match(/sessions\.jsonl:2:/);
  });
});
