// The agent around the hooks: hello, fork, hooks before the constructor, an absent or late
// gateway (drops counted, reported after reconnecting), prompt exit.
import { expect } from 'chai';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';

import { AgentKind, EventKind as K, Mode } from '../../src/generated/koala/v1/agent.pb.js';
import {
  bytesOn,
  compile,
  ensureShim,
  FakeGateway,
  programsDir,
  run,
  runRecorded,
  shimEnv,
  TempDir,
} from './shim-harness.js';

describe('csrc agent', function () {
  this.timeout(30000);
  let dir: TempDir;
  let gw: FakeGateway;

  before(() => ensureShim());
  beforeEach(async () => {
    dir = new TempDir();
    gw = new FakeGateway(dir.file('agent.sock'));
  });
  afterEach(async () => {
    await gw.close();
    dir.remove();
  });

  it('sends a hello first, with the SUT name, pid and mode', async () => {
    await gw.start();
    const { res } = await runRecorded(gw, compile(dir, 'sendrecv'), [], { KOALA_SUT_NAME: 'orders' });
    const hello = gw.conns.find((c) => c.hello.pid === res.pid)!.hello;
    expect(hello.protocolVersion).to.equal(1);
    expect(hello.kind).to.equal(AgentKind.AGENT_KIND_C_SHIM);
    expect(hello.sutName).to.equal('orders');
    expect(hello.mode).to.equal(Mode.MODE_RECORD);
    expect(hello.parentPid).to.equal(0);
    expect(hello.startNs > 0n).to.equal(true);
  });

  it('gives a forked child its own agent connection, hello with parent_pid and conn_ids', async () => {
    await gw.start();
    const { res, events } = await runRecorded(gw, compile(dir, 'fork'));
    const child = Number(res.out.child);
    await gw.waitFor(() => gw.conns.some((c) => c.hello.pid === child && c.closed));
    const childConn = gw.conns.find((c) => c.hello.pid === child)!;
    expect(childConn.hello.parentPid).to.equal(res.pid);
    const childSends = childConn.events.filter((e) => e.kind === K.EVENT_KIND_SEND);
    expect(childSends.map((e) => Buffer.from(e.payload).toString())).to.deep.equal(['child']);
    expect(childConn.events[0]!.seq).to.equal(1n);
    // the parent's stream never carries the child's bytes, and goes on after the fork
    const parentSends = events.filter((e) => e.kind === K.EVENT_KIND_SEND).map((e) => Buffer.from(e.payload).toString());
    expect(parentSends).to.deep.equal(['parent', 'parent-again']);
  });

  it('records I/O done in another library constructor, before the shim constructor ran', async () => {
    await gw.start();
    const lib = join(dir.path, 'libctor.so');
    const { spawnSync } = await import('node:child_process');
    const cc = (args: string[]) => {
      const r = spawnSync('cc', args, { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
    };
    cc(['-std=gnu11', '-shared', '-fPIC', '-o', lib, join(programsDir, 'ctor-lib.c')]);
    const bin = join(dir.path, 'ctor-main');
    cc(['-std=gnu11', '-o', bin, join(programsDir, 'ctor-main.c'), lib, `-Wl,-rpath,${dir.path}`]);
    const { res, events } = await runRecorded(gw, bin);
    const c = events.find((e) => e.kind === K.EVENT_KIND_CONNECT && e.fd === Number(res.out.c));
    expect(c).to.not.equal(undefined);
    expect(bytesOn(events, K.EVENT_KIND_SEND, c!.connId).toString()).to.equal('from-ctor');
  });

  it('leaves the program working and exiting promptly when no gateway listens', async () => {
    const bin = compile(dir, 'burst');
    const res = await run(bin, ['2000'], shimEnv(dir.file('nobody.sock'), { KOALA_BUFFER_SIZE: '65536' }));
    expect(res.code).to.equal(0);
    expect(res.out.c).to.match(/^\d+$/);
    expect(res.ms).to.be.below(1500);
  });

  it('reconnects when the gateway appears, then sends hello and a DROP_REPORT of what was lost', async () => {
    const bin = compile(dir, 'burst');
    // 2000 round trips of 512 bytes overflow a 64 KiB buffer long before the gateway is up.
    const running = run(bin, ['2000', '2500'], shimEnv(gw.socketPath, { KOALA_BUFFER_SIZE: '65536' }));
    await new Promise((r) => setTimeout(r, 400));
    await gw.start();
    const res = await running;
    expect(res.code).to.equal(0);
    await gw.waitFor(() => gw.conns.some((c) => c.hello.pid === res.pid && c.closed));
    const events = gw.eventsOf(res.pid);
    const drop = events.find((e) => e.kind === K.EVENT_KIND_DROP_REPORT);
    expect(drop, 'a DROP_REPORT').to.not.equal(undefined);
    expect(drop!.droppedEvents > 0n).to.equal(true);
    expect(drop!.droppedBytes >= drop!.droppedEvents * 512n - 1024n).to.equal(true);
    // what fitted in the buffer, and everything after the reconnect, arrives in order
    expect(events[events.length - 1]!.kind).to.equal(K.EVENT_KIND_SEND);
    expect(Buffer.from(events[events.length - 1]!.payload).toString()).to.equal('last');
    expect(events.map((e) => e.seq)).to.deep.equal(events.map((_, i) => BigInt(i + 1)));
  });

  it('gives up on a gateway that accepts and never reads, reconnects, and leaves the program unharmed', async () => {
    // A stuck gateway: every connection is accepted and never read, so the socket buffer fills.
    const path = dir.file('stuck.sock');
    const accepted: Socket[] = [];
    const stuck = createServer({ pauseOnConnect: true }, (s) => void accepted.push(s));
    await new Promise<void>((r) => stuck.listen(path, r));
    try {
      const bin = compile(dir, 'burst');
      // ~4 MB of events (2000 round trips of 512 bytes, recorded both ways, twice over) fill the
      // socket long before the program ends; it then lingers 1.5 s, past the stall bound.
      const res = await run(
        bin,
        ['4000', '1500'],
        shimEnv(path, { KOALA_SEND_STALL_MS: '300', KOALA_LOG_LEVEL: 'WARN', KOALA_EXIT_FLUSH_MS: '200' }),
      );
      expect(res.code).to.equal(0);
      expect(res.out.c).to.match(/^\d+$/);
      expect(res.ms, 'the program is not held by the writer').to.be.below(5000);
      expect(res.stderr).to.match(/the gateway has read nothing for \d+ ms; reconnecting/);
      // The writer dropped the stuck connection and came back with a new one.
      expect(accepted.length).to.be.at.least(2);
    } finally {
      for (const s of accepted) s.destroy();
      await new Promise<void>((r) => stuck.close(() => r()));
    }
  });
});
