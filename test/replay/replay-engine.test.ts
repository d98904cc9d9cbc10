import { expect } from 'chai';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ReplayEngine } from '../../src/replay/replay-engine.js';
import { buildRunReport } from '../../src/replay/report/run-report.js';
import { freePort } from '../helpers/ports.js';
import { addr, makeSession } from './make-session.js';

const PID = 4242;
const REDIS = '127.0.0.1:6379';

function getCmd(key: string): string {
  return `*2\r\n$3\r\nGET\r\n$${key.length}\r\n${key}\r\n`;
}

function httpOk(body: string): string {
  return `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/**
 * A small SUT: for `GET /item/<key>` it asks "Redis" for the key and answers `{"value": …}`.
 * It plays its own agent: it reports the inbound accept and each redirected connect to the
 * engine, and connects to the outbound mock instead of Redis.
 */
async function startSut(engine: ReplayEngine, outboundPort: number, opts: { reportAfterConnectMs?: number; keyMap?: (k: string) => string }) {
  let vtid = 100;
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    sockets.add(inbound);
    inbound.on('close', () => sockets.delete(inbound));
    const myVtid = ++vtid;
    inbound.once('data', (d: Buffer) => {
      void (async () => {
        engine.onAgentInbound(PID, myVtid, inbound.remotePort ?? 0);
        const recordedKey = /GET \/item\/(\S+)/.exec(d.toString())?.[1] ?? '?';
        const key = opts.keyMap?.(recordedKey) ?? recordedKey;
        const localPort = await freePort();
        if (opts.reportAfterConnectMs === undefined) engine.onAgentConnect(PID, localPort, addr(REDIS), myVtid);
        const out = connect({ host: '127.0.0.1', port: outboundPort, localAddress: '127.0.0.1', localPort });
        sockets.add(out);
        out.on('close', () => sockets.delete(out));
        await new Promise((r) => out.once('connect', r));
        if (opts.reportAfterConnectMs !== undefined) {
          await sleep(opts.reportAfterConnectMs);
          engine.onAgentConnect(PID, localPort, addr(REDIS), myVtid);
        }
        out.write(getCmd(key));
        const reply = await new Promise<string>((resolve) => {
          let acc = '';
          out.on('data', (x: Buffer) => {
            acc += x.toString();
            if (/^\$\d+\r\n.*\r\n$/s.test(acc) || acc.startsWith('$-1\r\n')) resolve(acc);
          });
          out.on('close', () => resolve(acc));
        });
        out.destroy();
        const value = reply.split('\r\n')[1] ?? null;
        inbound.write(httpOk(JSON.stringify({ key, value })));
      })().catch(() => inbound.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('no port');
  return {
    port: a.port,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

function recorded(id: string, key: string, value: string) {
  return makeSession(
    id,
    { request: `GET /item/${key} HTTP/1.1\r\nHost: sut\r\n\r\n`, response: httpOk(JSON.stringify({ key, value })) },
    [{ dst: REDIS, request: getCmd(key), response: `$${value.length}\r\n${value}\r\n` }],
  );
}

describe('ReplayEngine (end to end, agent reports played by the test SUT)', () => {
  let engine: ReplayEngine | undefined;
  let sut: { port: number; stop: () => Promise<void> } | undefined;

  afterEach(async () => {
    await sut?.stop();
    await engine?.close();
    engine = undefined;
    sut = undefined;
  });

  async function setUp(opts: { reportAfterConnectMs?: number; keyMap?: (k: string) => string } = {}): Promise<ReplayEngine> {
    engine = new ReplayEngine({ outbound: { host: '127.0.0.1', port: 0 }, reportWaitMs: 1500, settleMs: 20 });
    const info = await engine.start();
    sut = await startSut(engine, info.port, opts);
    return engine;
  }

  it('replays a session: the SUT gets the recorded Redis reply and the verdict passes', async () => {
    const e = await setUp();
    const r = await e.replaySession(recorded('s1', 'k:x', 'ten'), { sut: { host: '127.0.0.1', port: sut?.port ?? 0 } });
    expect(r.verdict.reasons).to.deep.equal([]);
    expect(r.verdict.pass).to.equal(true);
    expect(r.outboundCalls).to.equal(1);
    expect(r.calls[0]?.decision).to.include({ matched: true, strategy: 'exact', talkIndex: 0 });
    expect(r.inbound.end).to.equal('framed');
    expect(r.inbound.actual.toString()).to.contain('"value":"ten"');
  });

  it('waits for an agent report that arrives after the TCP connect', async () => {
    const e = await setUp({ reportAfterConnectMs: 300 });
    const r = await e.replaySession(recorded('s1', 'k:x', 'ten'), { sut: { host: '127.0.0.1', port: sut?.port ?? 0 } });
    expect(r.verdict.pass, r.verdict.reasons.join('; ')).to.equal(true);
    expect(r.calls[0]?.sessionId).to.equal('s1');
  });

  it('fails with reasons naming the changed outbound command and the changed response', async () => {
    const e = await setUp({ keyMap: (k) => k.replace('x', 'y') });
    const r = await e.replaySession(recorded('s1', 'k:x', 'ten'), { sut: { host: '127.0.0.1', port: sut?.port ?? 0 } });
    expect(r.verdict.pass).to.equal(false);
    expect(r.calls[0]?.decision).to.include({ matched: true, strategy: 'chunk' });
    expect(r.verdict.reasons).to.deep.equal([
      'response body $.key: "k:x" → "k:y"',
      'outbound #0 to 127.0.0.1:6379: command GET k:x → GET k:y',
    ]);
  });

  it('reports an unmatched call and the recorded talk left unused, with the candidates it considered', async () => {
    const e = await setUp({ keyMap: (k) => `${k}2` });
    const r = await e.replaySession(recorded('s1', 'k:x', 'ten'), { sut: { host: '127.0.0.1', port: sut?.port ?? 0 } });
    expect(r.verdict.reasons).to.include('unmatched outbound call to 127.0.0.1:6379: GET k:x2');
    expect(r.verdict.reasons).to.include('recorded talk #0 to 127.0.0.1:6379 not called: GET k:x');
    expect(r.calls[0]?.decision.top.map((t) => t.talkIndex)).to.deep.equal([0]);
    expect(r.calls[0]?.reaction).to.equal('closed');
  });

  it('replays 8 sessions at once with zero cross-attribution', async () => {
    const e = await setUp();
    const sessions = Array.from({ length: 8 }, (_, i) => recorded(`s${i}`, `k:${i}`, `v${i}`));
    const started = Date.now();
    const results = await Promise.all(sessions.map((s) => e.replaySession(s, { sut: { host: '127.0.0.1', port: sut?.port ?? 0 } })));
    for (const r of results) {
      expect(r.verdict.pass, `${r.sessionId}: ${r.verdict.reasons.join('; ')}`).to.equal(true);
      expect(r.calls.map((c) => c.sessionId)).to.deep.equal([r.sessionId]);
    }
    const report = buildRunReport(results, started);
    expect(report).to.include({ total: 8, passed: 8, failed: 0 });
  });

  it('refuses to replay the same session twice at once', async () => {
    const e = await setUp();
    const s = recorded('dup', 'k:x', 'ten');
    const first = e.replaySession(s, { sut: { host: '127.0.0.1', port: sut?.port ?? 0 } });
    let err: unknown;
    try {
      await e.replaySession(s, { sut: { host: '127.0.0.1', port: sut?.port ?? 0 } });
    } catch (x) {
      err = x;
    }
    expect((err as { code?: string }).code).to.equal('KOALA_ERR_REPLAY');
    expect((await first).verdict.pass).to.equal(true);
  });
});

/**
 * A SUT whose Redis connection is pooled (opened by the first request, then shared, one request at
 * a time) and whose agent is starved: every SEND report reaches the engine `reportDelayMs` after
 * the bytes reached the mock, so a second session's request arrives before any report of the
 * connection's SENDs (a loaded CI machine, go-sql-driver's pool at concurrency 4).
 */
async function startPooledSut(engine: ReplayEngine, outboundPort: number, reportDelayMs: number) {
  let vtid = 500;
  const sockets = new Set<Socket>();
  let pooled: { out: Socket; localPort: number } | undefined;
  let busy: Promise<unknown> = Promise.resolve();
  const useConn = async (myVtid: number, key: string): Promise<string> => {
    if (pooled === undefined) {
      const localPort = await freePort();
      engine.onAgentConnect(PID, localPort, addr(REDIS), myVtid);
      const out = connect({ host: '127.0.0.1', port: outboundPort, localAddress: '127.0.0.1', localPort });
      sockets.add(out);
      await new Promise((r) => out.once('connect', r));
      pooled = { out, localPort };
    }
    const { out, localPort } = pooled;
    const cmd = getCmd(key);
    out.write(cmd);
    setTimeout(() => engine.onAgentSend(PID, localPort, myVtid, Buffer.byteLength(cmd)), reportDelayMs);
    return await new Promise<string>((resolve) => {
      let acc = '';
      const onData = (x: Buffer): void => {
        acc += x.toString();
        if (/^\$\d+\r\n.*\r\n$/s.test(acc) || acc.startsWith('-')) {
          out.off('data', onData);
          resolve(acc);
        }
      };
      out.on('data', onData);
    });
  };
  const server: Server = createServer((inbound) => {
    sockets.add(inbound);
    inbound.on('close', () => sockets.delete(inbound));
    const myVtid = ++vtid;
    inbound.once('data', (d: Buffer) => {
      engine.onAgentInbound(PID, myVtid, inbound.remotePort ?? 0);
      const key = /GET \/item\/(\S+)/.exec(d.toString())?.[1] ?? '?';
      const turn = busy.then(() => useConn(myVtid, key));
      busy = turn.catch(() => undefined);
      turn.then((reply) => inbound.write(httpOk(JSON.stringify({ key, value: reply.split('\r\n')[1] ?? null }))), () => inbound.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('no port');
  return {
    port: a.port,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('ReplayEngine: a pooled connection changing hands before any SEND report arrived', () => {
  let engine: ReplayEngine | undefined;
  let sut: { port: number; stop: () => Promise<void> } | undefined;

  afterEach(async () => {
    await sut?.stop();
    await engine?.close();
    engine = undefined;
    sut = undefined;
  });

  it('attributes each request by the SEND reports (an agent that counts its sends), not by the connection\'s first owner', async () => {
    engine = new ReplayEngine({ outbound: { host: '127.0.0.1', port: 0 }, reportWaitMs: 1500, sendWaitMs: 5000, settleMs: 300 });
    const info = await engine.start();
    engine.onAgentHello(PID, true);
    sut = await startPooledSut(engine, info.port, 250);
    const target = { sut: { host: '127.0.0.1', port: sut.port } };
    const e = engine;
    const [a, b] = await Promise.all([
      e.replaySession(recorded('pa', 'k:a', 'va'), target),
      sleep(30).then(() => e.replaySession(recorded('pb', 'k:b', 'vb'), target)),
    ]);
    for (const r of [a, b]) {
      expect(r.verdict.pass, `${r.sessionId}: ${r.verdict.reasons.join('; ')}`).to.equal(true);
      expect(r.calls.map((c) => c.sessionId)).to.deep.equal([r.sessionId]);
    }
  });
});
