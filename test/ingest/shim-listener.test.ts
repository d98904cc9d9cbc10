import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { lstat, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { connectUnix } from '../helpers/unix-socket.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isKoalaError } from '../../src/errors.js';
import { GatewayMessage } from '../../src/generated/koala/v1/agent.pb.js';
import { FrameDecoder, encodeAgentFrame } from '../../src/ingest/frame-decoder.js';
import { ShimListener } from '../../src/ingest/shim-listener.js';
import { FakeSink, batch, hello, sendEvent } from './fake-sink.js';

function closed(s: Socket): Promise<void> {
  return new Promise((resolve) => (s.closed ? resolve() : s.once('close', () => resolve())));
}

/** Reads GatewayMessage frames the gateway writes back. */
function replies(s: Socket): GatewayMessage[] {
  const out: GatewayMessage[] = [];
  const d = new FrameDecoder(1 << 20);
  s.on('data', (c: Buffer) => { for (const f of d.push(c)) out.push(GatewayMessage.decode(f)); });
  s.on('error', () => {});
  return out;
}

describe('ShimListener', () => {
  let dir: string;
  let listener: ShimListener;
  let sink: FakeSink;
  const sockets: Socket[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'koala-shim-'));
    sink = new FakeSink();
    listener = new ShimListener({ path: join(dir, 'run', 'agent.sock'), sink, maxFrameBytes: 1 << 20 });
    await listener.listen();
  });

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await listener.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function agent(pid: number): Promise<{ s: Socket; got: GatewayMessage[] }> {
    const s = await connectUnix(listener.path);
    sockets.push(s);
    const got = replies(s);
    s.write(encodeAgentFrame(hello(pid)));
    return { s, got };
  }

  it('creates the socket 0600 in a 0700 directory', async () => {
    expect((await stat(join(dir, 'run'))).mode & 0o777).to.equal(0o700);
    expect((await stat(listener.path)).mode & 0o777).to.equal(0o600);
  });

  it('answers a hello with the config and delivers batches in order', async () => {
    const { s, got } = await agent(101);
    s.write(Buffer.concat([encodeAgentFrame(batch(sendEvent(1), sendEvent(2))), encodeAgentFrame(batch(sendEvent(3)))]));
    await sink.until(() => sink.connected.length === 1 && sink.eventsOf(sink.connected[0]!.linkId).length === 3);
    expect(sink.connected[0]!.hello.pid).to.equal(101);
    expect(sink.connected[0]!.transport).to.equal('unix');
    expect(sink.eventsOf(sink.connected[0]!.linkId).map((e) => e.seq)).to.deep.equal([1n, 2n, 3n]);
    await sink.until(() => got.length === 1);
    expect(got[0]!.body?.$case).to.equal('config');
    expect(got[0]!.body?.value.gatewayId).to.equal('test-gw');
    expect(got[0]!.body?.value.bypassAddrs).to.deep.equal([':6379']);
    s.end();
    await sink.until(() => sink.disconnected.length === 1);
    expect(sink.disconnected[0]!.reason).to.match(/closed/);
  });

  const bad: Array<[string, (s: Socket) => void, RegExp | undefined]> = [
    ['random bytes', (s) => s.write(Buffer.from('\x00\x00\x00\x05\xff\xff\xff\xff\xff', 'latin1')), /MALFORMED/],
    ['a huge length prefix', (s) => s.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3])), /TOO_LARGE/],
    ['half a frame then close', (s) => { s.write(encodeAgentFrame(batch(sendEvent(9, 'hello world'))).subarray(0, 9)); s.end(); }, /middle of a frame/],
    ['a second hello', (s) => s.write(encodeAgentFrame(hello(7))), /second hello/],
  ];
  for (const [name, misbehave, reason] of bad) {
    it(`drops only the connection that sends ${name}`, async () => {
      const good = await agent(1);
      const evil = await agent(2);
      await sink.until(() => sink.connected.length === 2);
      const evilLink = sink.connected.find((l) => l.hello.pid === 2)!;
      misbehave(evil.s);
      await closed(evil.s);
      await sink.until(() => sink.disconnected.some((d) => d.linkId === evilLink.linkId));
      expect(sink.disconnected.find((d) => d.linkId === evilLink.linkId)!.reason).to.match(reason!);
      good.s.write(encodeAgentFrame(batch(sendEvent(1))));
      const goodLink = sink.connected.find((l) => l.hello.pid === 1)!;
      await sink.until(() => sink.eventsOf(goodLink.linkId).length === 1);
      expect(sink.disconnected.some((d) => d.linkId === goodLink.linkId)).to.equal(false);
    });
  }

  it('drops a batch before hello without telling the sink', async () => {
    const s = await connectUnix(listener.path);
    sockets.push(s);
    s.on('error', () => {});
    s.write(encodeAgentFrame(batch(sendEvent(1))));
    await closed(s);
    expect(sink.connected).to.have.length(0);
    expect(sink.events).to.have.length(0);
    expect(listener.stats().connections).to.equal(0);
  });

  it('takes thousands of tiny frames in one write', async () => {
    const { s } = await agent(5);
    const frames = Array.from({ length: 3000 }, (_, i) => encodeAgentFrame(batch(sendEvent(i + 1))));
    s.write(Buffer.concat(frames));
    await sink.until(() => sink.connected.length === 1 && sink.eventsOf(sink.connected[0]!.linkId).length === 3000);
    const seqs = sink.eventsOf(sink.connected[0]!.linkId).map((e) => Number(e.seq));
    expect(seqs).to.deep.equal(Array.from({ length: 3000 }, (_, i) => i + 1));
  });

  it('replaces a stale socket file but refuses a live one and a non-socket', async () => {
    const path = join(dir, 'stale.sock');
    // A gateway killed with SIGKILL leaves its socket file behind with nobody listening.
    const dead = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`]);
    await new Promise<void>((r) => dead.stdout.once('data', () => r()));
    dead.kill('SIGKILL');
    await new Promise<void>((r) => dead.once('exit', () => r()));
    expect((await lstat(path)).isSocket()).to.equal(true);
    await writeFile(join(dir, 'plain'), 'x');
    const live = new ShimListener({ path: listener.path, sink, maxFrameBytes: 1024 });
    const plain = new ShimListener({ path: join(dir, 'plain'), sink, maxFrameBytes: 1024 });
    for (const l of [live, plain]) {
      try {
        await l.listen();
        expect.fail('listen should fail');
      } catch (err) {
        expect(isKoalaError(err, 'KOALA_ERR_LISTEN'), String(err)).to.equal(true);
      }
    }
    const again = new ShimListener({ path, sink, maxFrameBytes: 1024 });
    await again.listen();
    const s = await connectUnix(path);
    s.destroy();
    await again.close();
  });
});
