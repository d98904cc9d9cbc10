import { expect } from 'chai';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Session } from '../../src/generated/koala/v1/session.pb.js';
import { SessionEndReason } from '../../src/generated/koala/v1/session.pb.js';
import { encodeAgentFrame } from '../../src/ingest/frame-decoder.js';
import { readSessions } from '../../src/store/session-reader.js';
import { collect, runKoala, spawnKoala, waitForReady } from '../helpers/koala-cli.js';
import { connectUnix } from '../helpers/unix-socket.js';
import { batch, hello } from '../ingest/fake-sink.js';
import { exchanges, inboundExchange } from '../gateway/agent-events.js';

async function sessionsIn(dir: string): Promise<Session[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.jsonl')).map((f) => join(dir, f));
  const out: Session[] = [];
  for await (const r of readSessions(files)) if ('session' in r) out.push(r.session);
  return out;
}

describe('koala gateway --assembler spool, then koala assemble', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  const sockets: Socket[] = [];

  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'koala-cli-spool-')); });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  /** A spooling gateway that has received 5 closed exchanges and one left open from a shim agent. */
  const record = async (store: string) => {
    const sock = join(dir, 'agent.sock');
    child = spawnKoala(['gateway', '--mode', 'record', '--assembler', 'spool', '--store', store, '--agent-socket', sock, '--grpc-addr', '127.0.0.1:0'], {
      env: { ...process.env, KOALA_LOG_FILE: join(dir, 'gw.log') },
    });
    await waitForReady(child);
    const result = collect(child);
    const s = await connectUnix(sock);
    sockets.push(s);
    const replied = new Promise((r) => s.once('data', r));
    s.write(encodeAgentFrame(hello(4343, 'spool-web')));
    await replied;
    const open = inboundExchange().map((e) => ({ ...e, seq: e.seq + 35n, connId: e.connId + 100n }));
    s.write(Buffer.concat([encodeAgentFrame(batch(...exchanges(5))), encodeAgentFrame(batch(...open))]));
    // The spool's writer coalesces for 5 ms; a gateway killed outright must still have had them.
    await new Promise((r) => setTimeout(r, 300));
    return { child, result };
  };

  it('assembles a cleanly closed spool into the sessions, marks it assembled, and does not assemble it twice', async () => {
    const store = join(dir, 'store');
    const { child: gw, result } = await record(store);
    gw.kill('SIGTERM');
    expect((await result).code).to.equal(0);
    // Recording stored no session: only the spool.
    expect((await readdir(store)).filter((f) => f.endsWith('.jsonl'))).to.deep.equal([]);

    const r = await runKoala(['assemble', store]);
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    expect(r.stdout).to.match(/^spool-\d{8}-\d{6}-\d+ \(1 file\): 6 sessions, 38 events in 2 batches, 0 events lost by agents → .*sessions-.*\.jsonl\n$/);
    const sessions = await sessionsIn(store);
    expect(sessions.map((s) => s.inbound?.request.toString())).to.deep.equal([
      ...[0, 1, 2, 3, 4].map((i) => `GET /item/${i} HTTP/1.1\r\nHost: x\r\n\r\n`),
      'GET /hello HTTP/1.1\r\nHost: x\r\n\r\n',
    ]);
    expect(sessions.every((s) => s.sut === 'spool-web' && s.pid === 4343)).to.equal(true);
    expect(sessions.at(-1)!.endReason).to.equal(SessionEndReason.SESSION_END_REASON_GATEWAY_SHUTDOWN);
    expect(sessions[0]!.talks.map((t) => t.request.toString())).to.deep.equal(['*2\r\n$3\r\nGET\r\n$6\r\nitem:0\r\n']);
    expect((await readdir(store)).filter((f) => f.endsWith('.kspool.assembled'))).to.have.length(1);

    const again = await runKoala(['assemble', store]);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.match(/no spool \(\*\.kspool\)/);
  });

  it('assembles a killed gateway\'s spool as far as it goes, says so, and leaves it in place', async () => {
    const store = join(dir, 'store');
    const { child: gw, result } = await record(store);
    gw.kill('SIGKILL');
    await result;
    const out = join(dir, 'out');
    const r = await runKoala(['assemble', store, '--out', out]);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.match(/: 6 sessions, 38 events in 2 batches/);
    expect(r.stderr).to.match(/no end record: the gateway was killed or is still running/);
    expect((await sessionsIn(out)).length).to.equal(6);
    expect((await readdir(store)).filter((f) => f.endsWith('.kspool'))).to.have.length(1);
  });

  it('exits 1 naming the damage in a file that is not a spool, and 2 with nothing to assemble', async () => {
    const bogus = join(dir, 'x.kspool');
    await writeFile(bogus, 'KOALA-SPOOL-1\nnot records at all, just text');
    const r = await runKoala(['assemble', bogus, '--out', join(dir, 'out')]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/damaged, assembled up to the damage: .*x\.kspool: byte 14: unknown record kind/);
    const none = await runKoala(['assemble'], { env: { ...process.env, KOALA_STORE_DIR: '' } });
    expect(none.code).to.equal(2);
    expect(none.stderr).to.match(/give a spool DIR or FILE/);
  });
});
