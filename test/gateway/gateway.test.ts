import { expect } from 'chai';
import diagnostics_channel from 'node:diagnostics_channel';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { connectUnix } from '../helpers/unix-socket.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CHANNEL_NAMES, startGateway, type Gateway, type Session } from '../../src/index.js';
import { AgentServiceClient, EventKind, AddressFamily, type Event, type AgentMessage } from '../../src/generated/koala/v1/agent.pb.js';
import { Event as EventMsg } from '../../src/generated/koala/v1/agent.pb.js';
import { SessionEndReason } from '../../src/generated/koala/v1/session.pb.js';
import { encodeAgentFrame } from '../../src/ingest/frame-decoder.js';
import { readSessions } from '../../src/store/session-reader.js';
import { batch, hello } from '../ingest/fake-sink.js';
import { inboundExchange } from './agent-events.js';

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Gateway', () => {
  let dir: string;
  let gw: Gateway | undefined;
  const sockets: Socket[] = [];

  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'koala-gwt-')); });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await gw?.close();
    gw = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('listens on the socket and an ephemeral gRPC port, and closes both', async () => {
    gw = await startGateway({ storeDir: join(dir, 'store'), agentSocket: join(dir, 'a.sock'), agentGrpcAddr: '127.0.0.1:0' });
    expect(gw.agentSocket).to.equal(join(dir, 'a.sock'));
    expect(gw.agentGrpcAddr).to.match(/^127\.0\.0\.1:(\d+)$/);
    expect(gw.agentGrpcAddr).not.to.equal('127.0.0.1:0');
    expect((await stat(join(dir, 'store'))).isDirectory()).to.equal(true);
    await gw.close();
    await gw.close();
    await stat(join(dir, 'a.sock')).then(() => expect.fail('socket file should be gone'), () => undefined);
    gw = undefined;
  });

  it('counts links from both transports and bad frames in stats()', async () => {
    gw = await startGateway({ agentSocket: join(dir, 'a.sock'), agentGrpcAddr: '127.0.0.1:0' });
    const s = await connectUnix(gw.agentSocket);
    sockets.push(s);
    s.write(encodeAgentFrame(hello(10)));
    const client = new AgentServiceClient(gw.agentGrpcAddr, grpc.credentials.createInsecure());
    const call = client.connect();
    call.on('error', () => {});
    call.write(hello(20) satisfies AgentMessage);
    await until(() => gw!.stats().links.unix === 1 && gw!.stats().links.grpc === 1, 'two links');
    const bad = await connectUnix(gw.agentSocket);
    bad.on('error', () => {});
    bad.write(Buffer.from([0, 0, 0, 3, 0xff, 0xff, 0xff]));
    await until(() => gw!.stats().badFrames === 1, 'a bad frame counted');
    expect(gw.stats().linksTotal).to.equal(2);
    expect(gw.stats().links.unix).to.equal(1);
    call.end();
    client.close();
  });

  it('counts reported drops and sequence gaps as dropped events, and emitted sessions', async () => {
    gw = await startGateway({ agentSocket: join(dir, 'a.sock'), agentGrpcAddr: '127.0.0.1:0' });
    const s = await connectUnix(gw.agentSocket);
    sockets.push(s);
    s.on('data', () => {});
    // Seqs 4 and 5 never arrive; the report at seq 6 covers 4 more events the agent dropped itself.
    const report = EventMsg.fromPartial({ seq: 6n, tsNs: 6000n, tid: 11n, kind: EventKind.EVENT_KIND_DROP_REPORT, droppedEvents: 4n } as never);
    s.write(Buffer.concat([encodeAgentFrame(hello(34, 'web')), encodeAgentFrame(batch(...inboundExchange(), report))]));
    await until(() => gw!.stats().events === 4, 'events ingested');
    expect(gw.stats().droppedEvents).to.equal(6);
    expect(gw.stats().sessions).to.equal(0);
    const g = gw;
    await g.close();
    gw = undefined;
    expect(g.stats().sessions).to.equal(1);
  });

  it('fails to start with KOALA_ERR_LISTEN when the gRPC port is taken, leaving nothing behind', async () => {
    const first = await startGateway({ agentSocket: join(dir, 'a.sock'), agentGrpcAddr: '127.0.0.1:0' });
    try {
      await startGateway({ agentSocket: join(dir, 'b.sock'), agentGrpcAddr: first.agentGrpcAddr }).then(
        async (g) => { await g.close(); expect.fail('second gateway should not start'); },
        (err: { code?: string }) => expect(err.code).to.equal('KOALA_ERR_LISTEN'),
      );
      await stat(join(dir, 'b.sock')).then(() => expect.fail('b.sock should be removed'), () => undefined);
    } finally {
      await first.close();
    }
  });

  it('turns agent events into a stored, emitted and published session; close() ends open ones', async () => {
    gw = await startGateway({ storeDir: join(dir, 'store'), agentSocket: join(dir, 'a.sock'), agentGrpcAddr: '127.0.0.1:0' });
    const emitted: Session[] = [];
    const published: unknown[] = [];
    const sub = (m: unknown) => published.push(m);
    diagnostics_channel.subscribe(CHANNEL_NAMES.session, sub);
    try {
      gw.on('session', (s) => emitted.push(s));
      const s = await connectUnix(gw.agentSocket);
      sockets.push(s);
      s.on('data', () => {});
      s.write(Buffer.concat([encodeAgentFrame(hello(33, 'web')), encodeAgentFrame(batch(...inboundExchange()))]));
      await until(() => gw!.stats().events === 3, 'events ingested');
      await gw.close();
      gw = undefined;
    } finally {
      diagnostics_channel.unsubscribe(CHANNEL_NAMES.session, sub);
    }
    expect(emitted).to.have.length(1);
    expect(published).to.have.length(1);
    const session = emitted[0]!;
    expect(session.sut).to.equal('web');
    expect(session.endReason).to.be.oneOf([SessionEndReason.SESSION_END_REASON_GATEWAY_SHUTDOWN, SessionEndReason.SESSION_END_REASON_AGENT_GONE]);
    expect(session.inbound?.request.toString()).to.equal('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n');
    const files = (await readdir(join(dir, 'store'))).map((f) => join(dir, 'store', f));
    const stored: Session[] = [];
    for await (const r of readSessions(files)) if ('session' in r) stored.push(r.session);
    expect(stored.map((x) => x.id)).to.deep.equal([session.id]);
  });
});
