import { expect } from 'chai';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { connectUnix } from '../helpers/unix-socket.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger, startGateway, type Gateway, type GatewayOptions, type Session } from '../../src/index.js';
import * as grpc from '@grpc/grpc-js';
import { AgentServiceClient, type Event } from '../../src/generated/koala/v1/agent.pb.js';
import { SessionEndReason } from '../../src/generated/koala/v1/session.pb.js';
import { AssemblyThread } from '../../src/gateway/assembly-thread.js';
import { encodeAgentFrame, encodeFrame } from '../../src/ingest/frame-decoder.js';
import { AgentMessage } from '../../src/generated/koala/v1/agent.pb.js';
import { readSessions } from '../../src/store/session-reader.js';
import { batch, hello } from '../ingest/fake-sink.js';
import { exchanges } from './agent-events.js';
import { threadNices } from '../helpers/threads.js';
import { waitFor } from '../helpers/wait.js';

/** What a session holds apart from its random id. */
function content(s: Session): unknown {
  return { ...s, id: '' };
}

describe('Gateway assembly thread (record mode)', () => {
  let dir: string;
  const gateways: Gateway[] = [];
  const sockets: Socket[] = [];
  let logs: string[];

  const start = async (opts: GatewayOptions = {}): Promise<Gateway> => {
    const sub = await mkdtemp(join(dir, 'gw-'));
    const gw = await startGateway({
      mode: 'record',
      storeDir: join(sub, 'store'),
      agentSocket: join(sub, 'a.sock'),
      agentGrpcAddr: '127.0.0.1:0',
      logger: Logger.create({ level: 'DEBUG', destination: { write: (l) => void logs.push(l), close() {} } }),
      ...opts,
    });
    gateways.push(gw);
    return gw;
  };

  const feed = async (gw: Gateway, frames: Buffer[]): Promise<Socket> => {
    const s = await connectUnix(gw.agentSocket);
    sockets.push(s);
    s.on('data', () => {});
    s.write(Buffer.concat(frames));
    return s;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'koala-asm-'));
    logs = [];
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    for (const g of gateways.splice(0)) await g.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('assembles on a thread at the configured nice value, leaving the receiving thread as it was', async () => {
    const before = threadNices().get(process.pid);
    await start();
    expect([...threadNices().values()]).to.include(19);
    expect(threadNices().get(process.pid)).to.equal(before);
    await start({ recordNice: 7 });
    expect([...threadNices().values()]).to.include(7);
  });

  it('stores and emits exactly the sessions an inline assembler does, from the same events', async () => {
    const events = exchanges(40);
    const frames = [encodeAgentFrame(hello(71, 'web'))];
    // Batches of varied sizes, as agents send them.
    for (let i = 0, n = 1; i < events.length; i += n, n = (n % 13) + 1) frames.push(encodeAgentFrame(batch(...events.slice(i, i + n))));
    const results: { emitted: Session[]; stored: Session[] }[] = [];
    for (const assembler of ['thread', 'inline'] as const) {
      const gw = await start({ assembler });
      const emitted: Session[] = [];
      gw.on('session', (s) => emitted.push(s));
      await feed(gw, frames);
      await waitFor('40 sessions', () => (emitted.length >= 40 ? true : undefined), 10_000);
      await gw.flush();
      expect(gw.stats()).to.include({ sessions: 40, events: events.length, droppedEvents: 0, backlogBytes: 0 });
      const storeDir = join(gw.storePath!, '..');
      const stored: Session[] = [];
      for await (const r of readSessions((await readdir(storeDir)).map((f) => join(storeDir, f)))) if ('session' in r) stored.push(r.session);
      results.push({ emitted, stored });
    }
    const [thread, inline] = results as [{ emitted: Session[]; stored: Session[] }, { emitted: Session[]; stored: Session[] }];
    expect(thread.emitted).to.have.length(40);
    expect(thread.emitted.every((s) => s.endReason === SessionEndReason.SESSION_END_REASON_INBOUND_CLOSED && s.talks.length === 1)).to.equal(true);
    // Buffers, as an inline assembler emits them, not bare Uint8Arrays.
    expect(Buffer.isBuffer(thread.emitted[0]!.inbound!.request)).to.equal(true);
    expect(thread.emitted[7]!.inbound!.request.toString()).to.equal('GET /item/7 HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(thread.emitted.map(content)).to.deep.equal(inline.emitted.map(content));
    expect(thread.stored.map(content)).to.deep.equal(inline.stored.map(content));
    expect(thread.stored.map((s) => s.id)).to.deep.equal(thread.emitted.map((s) => s.id));
  });

  it('ends only the link whose batch does not decode there, and counts it as a bad frame', async () => {
    const gw = await start();
    const good = await feed(gw, [encodeAgentFrame(hello(72, 'good'))]);
    // Begins like a batch (field 2, length-delimited), so it is passed on undecoded; then garbage.
    const garbage = Buffer.from([0x12, 0x05, 0x0a, 0xff, 0xff, 0xff, 0xff]);
    const bad = await feed(gw, [encodeAgentFrame(hello(73, 'bad')), encodeFrame(garbage)]);
    await new Promise<void>((resolve) => bad.once('close', () => resolve()));
    expect(gw.stats().badFrames).to.equal(1);
    expect(logs.some((l) => /dropping shim agent connection .*pid=73 .*KOALA_ERR_FRAME_MALFORMED/.test(l))).to.equal(true);
    const emitted: Session[] = [];
    gw.on('session', (s) => emitted.push(s));
    good.write(encodeAgentFrame(batch(...exchanges(2))));
    await waitFor('2 sessions', () => (emitted.length >= 2 ? true : undefined), 10_000);
    expect(emitted.map((s) => s.pid)).to.deep.equal([72, 72]);
  });

  it('stops reading from agents past the backlog bound and resumes when the thread catches up, losing nothing', async () => {
    const gw = await start({ assemblerBacklogBytes: 1 });
    const emitted: Session[] = [];
    gw.on('session', (s) => emitted.push(s));
    const events = exchanges(300);
    const frames = [encodeAgentFrame(hello(74, 'web'))];
    for (let i = 0; i < events.length; i += 7) frames.push(encodeAgentFrame(batch(...events.slice(i, i + 7))));
    await feed(gw, frames);
    await waitFor('300 sessions', () => (emitted.length >= 300 ? true : undefined), 20_000);
    expect(new Set(emitted.map((s) => s.inbound!.request.toString())).size).to.equal(300);
    expect(gw.stats()).to.include({ droppedEvents: 0, badFrames: 0 });
    expect(logs.filter((l) => /reading from agents paused/.test(l)).length).to.be.greaterThan(0);
    expect(logs.filter((l) => /caught up; reading from agents again/.test(l)).length).to.be.greaterThan(0);
  });

  it('over gRPC too: past the bound it stops reading the stream, resumes, and every session arrives', async () => {
    const gw = await start({ assemblerBacklogBytes: 1 });
    const emitted: Session[] = [];
    gw.on('session', (s) => emitted.push(s));
    const client = new AgentServiceClient(gw.agentGrpcAddr, grpc.credentials.createInsecure());
    try {
      const call = client.connect();
      call.on('error', () => {});
      call.on('data', () => {});
      call.write(hello(76, 'grpc-web'));
      const events = exchanges(300);
      for (let i = 0; i < events.length; i += 7) call.write(batch(...events.slice(i, i + 7)));
      await waitFor('300 sessions', () => (emitted.length >= 300 ? true : undefined), 20_000);
      expect(new Set(emitted.map((s) => s.inbound!.request.toString())).size).to.equal(300);
      expect(emitted.every((s) => s.pid === 76)).to.equal(true);
      expect(gw.stats()).to.include({ droppedEvents: 0, badFrames: 0 });
      expect(logs.some((l) => /reading from agents paused/.test(l))).to.equal(true);
      expect(logs.some((l) => /caught up; reading from agents again/.test(l))).to.equal(true);
      call.end();
    } finally {
      client.close();
    }
  });

  it('replaces a thread that dies: recording goes on for the links it knew, and the loss is logged', async () => {
    const log = Logger.create({ level: 'DEBUG', destination: { write: (l) => void logs.push(l), close() {} } });
    const emitted: Session[] = [];
    const thread = await AssemblyThread.start(
      { assembler: { idleAfterResponseMs: 2000, bypassAddrs: [], maxPayloadBytes: 1 << 20 }, storeDir: undefined, logger: log, nice: 0, backlogBytes: 1 << 20 },
      { session: (s) => emitted.push(s), malformed: () => expect.fail('nothing is malformed'), backlog: () => undefined },
    );
    try {
      thread.setForward(true);
      const frame = (events: Event[]) => AgentMessage.encode(batch(...events)).finish();
      const h = hello(75, 'web').body;
      if (h?.$case !== 'hello') throw new Error('hello() builds a hello');
      thread.agentConnected(1, h.value);
      thread.batch(1, frame(exchanges(1)));
      await waitFor('first session', () => (emitted.length >= 1 ? true : undefined), 5000);
      // The worker is private; ending it from outside is what a crash in it looks like here.
      await (thread as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
      await waitFor('restart logged', () => (logs.some((l) => /assembly thread exited; starting a new one/.test(l)) ? true : undefined), 5000);
      thread.batch(1, frame(exchanges(1, 100).map((e) => ({ ...e, connId: e.connId + 100n }))));
      await waitFor('second session', () => (emitted.length >= 2 ? true : undefined), 5000);
      expect(emitted[1]!.pid).to.equal(75);
      expect(emitted[1]!.inbound!.request.toString()).to.equal('GET /item/0 HTTP/1.1\r\nHost: x\r\n\r\n');
    } finally {
      await thread.close();
    }
  });
});
