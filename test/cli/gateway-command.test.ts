import { expect } from 'chai';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Session } from '../../src/generated/koala/v1/session.pb.js';
import { encodeAgentFrame } from '../../src/ingest/frame-decoder.js';
import { readSessions } from '../../src/store/session-reader.js';
import { collect, runKoala, spawnKoala, waitForReady } from '../helpers/koala-cli.js';
import { threadNices } from '../helpers/threads.js';
import { batch, hello } from '../ingest/fake-sink.js';
import { inboundExchange } from '../gateway/agent-events.js';

describe('koala gateway', () => {
  let dir: string;
  let child: ChildProcess | undefined;

  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'koala-cli-gw-')); });
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('prints one ready line with the real gRPC port, and on SIGTERM stores open sessions and exits 0', async () => {
    const store = join(dir, 'store');
    const sock = join(dir, 'agent.sock');
    child = spawnKoala(['gateway', '--mode', 'record', '--store', store, '--agent-socket', sock, '--grpc-addr', '127.0.0.1:0'], {
      env: { ...process.env, KOALA_LOG_FILE: join(dir, 'gw.log'), KOALA_LOG_LEVEL: 'debug' },
    });
    const ready = await waitForReady(child);
    expect(ready).to.deep.include({ mode: 'record', store, agentSocket: sock });
    expect(ready.grpc).to.match(/^127\.0\.0\.1:\d+$/);
    expect(ready.grpc).not.to.equal('127.0.0.1:0');
    const result = collect(child);

    const s = await new Promise<Socket>((resolve, reject) => {
      const c = createConnection(sock, () => resolve(c));
      c.once('error', reject);
    });
    s.on('error', () => {});
    // Wait for the config reply, so the gateway has the hello before we send events.
    const replied = new Promise((r) => s.once('data', r));
    s.write(encodeAgentFrame(hello(4242, 'cli-web')));
    await replied;
    s.write(encodeAgentFrame(batch(...inboundExchange())));
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGTERM');
    const { code, stdout } = await result;
    s.destroy();
    expect(code).to.equal(0);
    // Nothing after the ready line: stdout is for that one line only.
    expect(stdout).to.equal('');

    const sessions: Session[] = [];
    const files = (await readdir(store)).map((f) => join(store, f));
    for await (const r of readSessions(files)) if ('session' in r) sessions.push(r.session);
    expect(sessions.map((x) => x.sut)).to.deep.equal(['cli-web']);
    expect(sessions[0]!.inbound?.request.toString()).to.match(/^GET \/hello /);
  });

  it('fails at start naming the option and what was expected', async () => {
    const r = await runKoala(['gateway', '--agent-socket', join(dir, 's'), '--grpc-addr', '127.0.0.1:0', '--session-idle', 'soon']);
    expect(r.code).to.equal(2);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.match(/KOALA_SESSION_IDLE \/ --session-idle/);
    expect(r.stderr).to.match(/expected a duration/);
    const env = await runKoala(['gateway', '--agent-socket', join(dir, 's'), '--grpc-addr', '127.0.0.1:0'], { env: { ...process.env, KOALA_MODE: 'playback' } });
    expect(env.code).to.equal(2);
    expect(env.stderr).to.match(/KOALA_MODE \/ --mode.*"playback".*record, replay, record\+replay/);
  });

  it('rejects an unknown flag and prints help on --help', async () => {
    const bad = await runKoala(['gateway', '--stor', 'x']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/Unknown option '--stor'/);
    const help = await runKoala(['gateway', '--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.contain('--agent-socket <path>');
    expect(help.stdout).to.contain('KOALA_AGENT_GRPC_ADDR');
  });

  it('exits non-zero with a clear message when the gRPC address is taken', async () => {
    const first = spawnKoala(['gateway', '--agent-socket', join(dir, 'a.sock'), '--grpc-addr', '127.0.0.1:0'], { env: { ...process.env, KOALA_LOG_FILE: join(dir, 'a.log') } });
    child = first;
    const ready = await waitForReady(first);
    const second = await runKoala(['gateway', '--agent-socket', join(dir, 'b.sock'), '--grpc-addr', ready.grpc], { env: { ...process.env, KOALA_LOG_FILE: join(dir, 'b.log') } });
    expect(second.code).to.equal(1);
    expect(second.stderr).to.contain(`cannot listen on ${ready.grpc}`);
    first.kill('SIGTERM');
    expect((await collect(first)).code).to.equal(0);
  });
  it('in record mode runs every thread at --record-nice (default 19); --assembler inline changes nothing', async () => {
    const start = async (extra: string[]) => {
      const c = spawnKoala(['gateway', '--agent-socket', join(dir, `${extra.join('') || 'default'}.sock`), '--grpc-addr', '127.0.0.1:0', ...extra]);
      child = c;
      await waitForReady(c);
      const n = threadNices(c.pid!);
      c.kill('SIGTERM');
      await collect(c);
      return { pid: c.pid!, n };
    };
    // The child inherits this process's nice value.
    const base = getPriority();
    const threaded = await start([]);
    const all = [...threaded.n.values()];
    // The main thread, the assembly thread, V8's and libuv's helpers.
    expect(all.length).to.be.greaterThan(5);
    expect(all.every((x) => x === Math.max(base, 19)), `thread nices: ${all.join(',')}`).to.equal(true);
    const seven = await start(['--record-nice', '7']);
    expect([...seven.n.values()].every((x) => x === Math.max(base, 7)), `nices: ${[...seven.n.values()].join(',')}`).to.equal(true);
    const inline = await start(['--assembler', 'inline']);
    expect([...inline.n.values()].every((x) => x === base), `nices: ${[...inline.n.values()].join(',')}`).to.equal(true);
  });
});
