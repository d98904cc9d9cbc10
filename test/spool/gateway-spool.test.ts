import { expect } from 'chai';
import { readdir } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Logger, type Gateway, type GatewayOptions, type Session } from '../../src/index.js';
import { AgentMessage, AgentServiceClient } from '../../src/generated/koala/v1/agent.pb.js';
import { SessionEndReason } from '../../src/generated/koala/v1/session.pb.js';
import { isKoalaError } from '../../src/errors.js';
import { encodeAgentFrame, encodeFrame } from '../../src/ingest/frame-decoder.js';
import { assembleSpools } from '../../src/spool/assemble-spool.js';
import { readSessions } from '../../src/store/session-reader.js';
import { batch, hello } from '../ingest/fake-sink.js';
import { exchanges, inboundExchange } from '../gateway/agent-events.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { connectUnix } from '../helpers/unix-socket.js';
import { waitFor } from '../helpers/wait.js';

const ASSEMBLER = { idleAfterResponseMs: 2000, bypassAddrs: [], maxPayloadBytes: 1 << 20 };

async function sessionsIn(dir: string): Promise<Session[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.jsonl')).map((f) => join(dir, f));
  const out: Session[] = [];
  for await (const r of readSessions(files)) {
    if ('error' in r) throw r.error;
    out.push(r.session);
  }
  return out;
}

/** A session's content without its random id, in an order that does not depend on which link arrived first. */
function contents(sessions: Session[]): unknown[] {
  const key = (s: Session) => `${s.pid} ${s.inbound?.request.toString()}`;
  return [...sessions].sort((a, b) => key(a).localeCompare(key(b))).map((s) => ({ ...s, id: '' }));
}

/** Batches of varied sizes, as agents send them. */
function batches(n: number): AgentMessage[] {
  const events = exchanges(n);
  const out: AgentMessage[] = [];
  for (let i = 0, k = 1; i < events.length; i += k, k = (k % 13) + 1) out.push(batch(...events.slice(i, i + k)));
  return out;
}

describe('Gateway spool (record mode, --assembler spool)', () => {
  const gateways: TestGateway[] = [];
  const sockets: Socket[] = [];
  const clients: AgentServiceClient[] = [];

  const start = async (opts: GatewayOptions): Promise<TestGateway> => {
    const tg = await startTestGateway(opts);
    gateways.push(tg);
    return tg;
  };

  /** The same agent traffic each time: a shim link and a gRPC link, 20 exchanges each, and one session left open. */
  const send = async (gw: Gateway): Promise<number> => {
    const s = await connectUnix(gw.agentSocket);
    sockets.push(s);
    s.on('data', () => {});
    // The open session goes on from the 140 events (7 per exchange) before it.
    const shimBatches = [...batches(20), batch(...inboundExchange().map((e) => ({ ...e, seq: e.seq + 140n, connId: e.connId + 1000n })))];
    s.write(Buffer.concat([encodeAgentFrame(hello(81, 'shim-web')), ...shimBatches.map(encodeAgentFrame)]));
    const client = new AgentServiceClient(gw.agentGrpcAddr, grpc.credentials.createInsecure());
    clients.push(client);
    const call = client.connect();
    call.on('error', () => {});
    call.on('data', () => {});
    call.write(hello(82, 'go-web'));
    const grpcBatches = batches(20);
    for (const b of grpcBatches) call.write(b);
    return shimBatches.length + grpcBatches.length;
  };

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    for (const c of clients.splice(0)) c.close();
    for (const g of gateways.splice(0)) await g.close();
  });

  it('assembles nothing while recording, and koala assemble later stores exactly the sessions the assembly thread does', async () => {
    const live = await start({ assembler: 'thread' });
    await send(live.gateway);
    await waitFor('40 sessions', () => (live.stats().sessions >= 40 ? true : undefined), 10_000);
    const liveDir = live.storeDir;
    await live.close({ keep: true });
    const fromLive = await sessionsIn(liveDir);

    const spooling = await start({ assembler: 'spool' });
    const sent = await send(spooling.gateway);
    await waitFor('every batch spooled', () => (spooling.stats().spool!.batches >= sent ? true : undefined), 10_000);
    expect(spooling.stats()).to.include({ sessions: 0, events: 0 });
    expect(spooling.gateway.storePath).to.match(/spool-.*\.kspool$/);
    const spoolDir = spooling.storeDir;
    await spooling.close({ keep: true });
    expect(spooling.stats().spool).to.include({ batches: sent, recordsDropped: 0 });

    const outcomes = await assembleSpools([spoolDir], { assembler: ASSEMBLER, storeDir: spoolDir, logger: Logger.silent() });
    expect(outcomes).to.have.length(1);
    expect(outcomes[0]).to.include({ batches: sent, sessions: 41, droppedEvents: 0, malformedBatches: 0, ended: true, tornBytes: 0, corrupt: undefined });
    const fromSpool = await sessionsIn(spoolDir);

    expect(fromLive).to.have.length(41);
    expect(fromSpool.filter((s) => s.sut === 'go-web')).to.have.length(20);
    const open = fromSpool.filter((s) => s.endReason === SessionEndReason.SESSION_END_REASON_GATEWAY_SHUTDOWN);
    expect(open.map((s) => s.inbound?.request.toString())).to.deep.equal(['GET /hello HTTP/1.1\r\nHost: x\r\n\r\n']);
    expect(contents(fromSpool)).to.deep.equal(contents(fromLive));
  });

  it('stops reading from agents while the disk is behind the bound, resumes, and loses nothing', async () => {
    const gw = await start({ assembler: 'spool', assemblerBacklogBytes: 1 });
    const sent = await send(gw.gateway);
    await waitFor('every batch spooled', () => (gw.stats().spool!.batches >= sent ? true : undefined), 10_000);
    const spoolDir = gw.storeDir;
    await gw.close({ keep: true });
    expect(gw.logs.some((l) => /disk is behind the spool; reading from agents paused/.test(l))).to.equal(true);
    expect(gw.logs.some((l) => /spool caught up; reading from agents again/.test(l))).to.equal(true);
    const [o] = await assembleSpools([spoolDir], { assembler: ASSEMBLER, storeDir: spoolDir, logger: Logger.silent() });
    expect(o).to.include({ sessions: 41, droppedEvents: 0, ended: true });
  });

  it('takes a batch that does not begin with its tag (decoded on arrival) on the thread and in the spool alike', async () => {
    // An unknown varint field (15) before the batch: valid protobuf no koala agent writes.
    const odd = (m: AgentMessage) => encodeFrame(Buffer.concat([Buffer.from([0x78, 0x01]), AgentMessage.encode(m).finish()]));
    const frames = [encodeAgentFrame(hello(83, 'odd')), ...batches(3).map(odd)];
    const live = await start({ assembler: 'thread' });
    const s1 = await connectUnix(live.agentSocket);
    sockets.push(s1);
    s1.on('data', () => {});
    s1.write(Buffer.concat(frames));
    await waitFor('3 sessions', () => (live.stats().sessions >= 3 ? true : undefined), 10_000);

    const spooling = await start({ assembler: 'spool' });
    const s2 = await connectUnix(spooling.agentSocket);
    sockets.push(s2);
    s2.on('data', () => {});
    s2.write(Buffer.concat(frames));
    await waitFor('batches spooled', () => (spooling.stats().spool!.batches >= frames.length - 1 ? true : undefined), 10_000);
    const spoolDir = spooling.storeDir;
    await spooling.close({ keep: true });
    const [o] = await assembleSpools([spoolDir], { assembler: ASSEMBLER, storeDir: spoolDir, logger: Logger.silent() });
    expect(o).to.include({ sessions: 3, events: 21, malformedBatches: 0 });
  });

  it('refuses a spool outside record mode, or with nowhere to spool', async () => {
    for (const opts of [{ assembler: 'spool', mode: 'record+replay' }, { assembler: 'spool', storeDir: undefined }] as GatewayOptions[]) {
      let err: unknown;
      try {
        await start({ sutAddr: '127.0.0.1:1', ...opts });
      } catch (e) {
        err = e;
      }
      expect(isKoalaError(err, 'KOALA_ERR_CONFIG'), String(err)).to.equal(true);
    }
  });
});
