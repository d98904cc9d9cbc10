import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { lstat, mkdtemp, rm, stat } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentServiceClient, type AgentMessage, type GatewayMessage } from '../../src/generated/koala/v1/agent.pb.js';
import { GrpcAgentServer } from '../../src/ingest/grpc-agent-server.js';
import { FakeSink, batch, hello, sendEvent } from './fake-sink.js';

describe('GrpcAgentServer', () => {
  let server: GrpcAgentServer;
  let sink: FakeSink;
  let client: AgentServiceClient;

  beforeEach(async () => {
    sink = new FakeSink();
    server = new GrpcAgentServer({ address: '127.0.0.1:0', sink, maxFrameBytes: 64 * 1024 });
    await server.listen();
    client = new AgentServiceClient(server.address, grpc.credentials.createInsecure());
  });

  afterEach(async () => {
    client.close();
    await server.close();
  });

  function open(): { call: grpc.ClientDuplexStream<AgentMessage, GatewayMessage>; got: GatewayMessage[]; status: Promise<grpc.StatusObject> } {
    const call = client.connect();
    const got: GatewayMessage[] = [];
    call.on('data', (m: GatewayMessage) => got.push(m));
    call.on('error', () => {});
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    return { call, got, status };
  }

  it('reports the real port when port 0 was asked', () => {
    expect(server.address).to.match(/^127\.0\.0\.1:\d+$/);
    expect(server.address).not.to.equal('127.0.0.1:0');
  });

  it('answers a hello with the config and delivers batches', async () => {
    const { call, got, status } = open();
    call.write(hello(77));
    call.write(batch(sendEvent(1), sendEvent(2)));
    await sink.until(() => sink.connected.length === 1 && sink.eventsOf(sink.connected[0]!.linkId).length === 2);
    expect(sink.connected[0]!.transport).to.equal('grpc');
    expect(sink.connected[0]!.hello.pid).to.equal(77);
    await sink.until(() => got.length === 1);
    expect(got[0]!.body?.value.gatewayId).to.equal('test-gw');
    call.end();
    expect((await status).code).to.equal(grpc.status.OK);
    await sink.until(() => sink.disconnected.length === 1);
  });

  it('ends a stream whose first message is a batch, and keeps serving others', async () => {
    const good = open();
    good.call.write(hello(1));
    const bad = open();
    bad.call.write(batch(sendEvent(1)));
    const st = await bad.status;
    expect(st.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(st.details).to.match(/batch before hello/);
    good.call.write(batch(sendEvent(5)));
    await sink.until(() => sink.connected.length === 1 && sink.eventsOf(sink.connected[0]!.linkId).length === 1);
    expect(sink.connected.map((l) => l.hello.pid)).to.deep.equal([1]);
    good.call.end();
    await good.status;
  });

  it('rejects a message above the frame limit on that stream only', async () => {
    const big = open();
    big.call.write(hello(2));
    await sink.until(() => sink.connected.length === 1);
    big.call.write(batch(sendEvent(1, 'x'.repeat(100 * 1024))));
    expect((await big.status).code).to.equal(grpc.status.RESOURCE_EXHAUSTED);
    await sink.until(() => sink.disconnected.length === 1);
    const next = open();
    next.call.write(hello(3));
    next.call.write(batch(sendEvent(1)));
    await sink.until(() => sink.connected.length === 2 && sink.eventsOf(sink.connected[1]!.linkId).length === 1);
    next.call.end();
    await next.status;
  });

  it('survives garbage on its port', async () => {
    for (const junk of [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.alloc(4096, 0xff), Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\xff\xff\xff\xff', 'latin1')]) {
      const [h, p] = [server.address.split(':')[0]!, Number(server.address.split(':')[1])];
      await new Promise<void>((resolve) => {
        const s = createConnection(p, h, () => s.end(junk));
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.resume();
      });
    }
    const { call, status } = open();
    call.write(hello(9));
    call.write(batch(sendEvent(1)));
    await sink.until(() => sink.connected.length === 1 && sink.eventsOf(sink.connected[0]!.linkId).length === 1);
    call.end();
    expect((await status).code).to.equal(grpc.status.OK);
  });
});

describe('GrpcAgentServer over a unix socket (opt-in unix:/// address)', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'koala-grpc-unix-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers a hello and a batch, with the directory 0700 and the socket 0600', async () => {
    const path = join(dir, 'sub', 'agent-grpc.sock');
    const target = `unix://${path}`;
    const sink = new FakeSink();
    const server = new GrpcAgentServer({ address: target, sink, maxFrameBytes: 64 * 1024 });
    expect(await server.listen()).to.equal(target);
    expect(server.address).to.equal(target);
    const client = new AgentServiceClient(target, grpc.credentials.createInsecure());
    try {
      expect((await lstat(path)).isSocket()).to.equal(true);
      expect((await stat(path)).mode & 0o777).to.equal(0o600);
      expect((await stat(join(dir, 'sub'))).mode & 0o777).to.equal(0o700);
      const call = client.connect();
      const got: GatewayMessage[] = [];
      call.on('data', (m: GatewayMessage) => got.push(m));
      const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      call.write(hello(42));
      call.write(batch(sendEvent(1), sendEvent(2)));
      await sink.until(() => sink.connected.length === 1 && sink.eventsOf(sink.connected[0]!.linkId).length === 2);
      expect(sink.connected[0]!.transport).to.equal('grpc');
      expect(sink.connected[0]!.hello.pid).to.equal(42);
      await sink.until(() => got.length === 1);
      expect(got[0]!.body?.value.gatewayId).to.equal('test-gw');
      call.end();
      expect((await status).code).to.equal(grpc.status.OK);
    } finally {
      client.close();
      await server.close();
    }
  });

  it('refuses a socket path somebody already listens on', async () => {
    const target = `unix://${join(dir, 'g.sock')}`;
    const first = new GrpcAgentServer({ address: target, sink: new FakeSink(), maxFrameBytes: 1024 });
    await first.listen();
    try {
      const second = new GrpcAgentServer({ address: target, sink: new FakeSink(), maxFrameBytes: 1024 });
      let err: unknown;
      await second.listen().catch((e: unknown) => { err = e; });
      expect(String(err)).to.match(/already listens/);
    } finally {
      await first.close();
    }
  });
});
