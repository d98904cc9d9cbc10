/**
 * The gateway in replay mode: the replay API on inboundAddr (POST /replay, POST /json), its errors,
 * and replaySession refused in record mode. The SUT here makes no outbound calls, so no agent is
 * needed; the agent-driven paths are covered by test/scenarios/replay-*.test.ts.
 */
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReplayApi } from '../../src/gateway/replay-api.js';
import { encodeSessionLine, isKoalaError, startGateway, type Gateway } from '../../src/index.js';
import { Logger } from '../../src/log/logger.js';
import { makeSession } from '../replay/make-session.js';

function httpOk(body: string): string {
  return `HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
}

describe('Gateway replay API', function () {
  let dir: string;
  let gw: Gateway;
  let sut: Server;
  let sutPort: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'koala-replay-api-'));
    // A SUT answering "hi <path>" without Date headers, so a replay can compare bytes exactly.
    sut = createServer((req, res) => {
      res.sendDate = false;
      res.setHeader('Connection', 'close');
      res.end(`hi ${req.url}`);
    });
    await new Promise<void>((r) => sut.listen(0, '127.0.0.1', r));
    sutPort = (sut.address() as AddressInfo).port;
    gw = await startGateway({
      mode: 'replay',
      agentSocket: join(dir, 'agent.sock'),
      agentGrpcAddr: '127.0.0.1:0',
      outboundAddr: '127.0.0.1:0',
      inboundAddr: '127.0.0.1:0',
      sutAddr: `127.0.0.1:${sutPort}`,
    });
  });

  after(async () => {
    await gw?.close();
    await new Promise((r) => sut?.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  const post = (path: string, body: string, method = 'POST') => fetch(`http://${gw.inboundAddr}${path}`, { method, body: method === 'GET' ? undefined : body });

  it('reports the bound outbound and inbound addresses (port 0 resolved)', () => {
    expect(gw.outboundAddr).to.match(/^127\.0\.0\.1:[1-9]\d*$/);
    expect(gw.inboundAddr).to.match(/^127\.0\.0\.1:[1-9]\d*$/);
  });

  it('POST /replay replays one stored session line and answers its result', async () => {
    const s = makeSession('api-1', { request: 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n', response: httpOk('hi /a') });
    const res = await post('/replay', encodeSessionLine(s));
    expect(res.status).to.equal(200);
    const body = (await res.json()) as { sessionId: string; verdict: { pass: boolean; reasons: string[] }; inbound: { actual: { text: string } } };
    expect(body.sessionId).to.equal('api-1');
    expect(body.verdict.reasons).to.deep.equal([]);
    expect(body.verdict.pass).to.equal(true);
    expect(body.inbound.actual.text).to.equal(httpOk('hi /a'));
  });

  it('a changed response fails with the difference named', async () => {
    const s = makeSession('api-2', { request: 'GET /b HTTP/1.1\r\nHost: x\r\n\r\n', response: httpOk('hi /c') });
    const body = (await (await post('/replay', encodeSessionLine(s))).json()) as { verdict: { pass: boolean; reasons: string[] } };
    expect(body.verdict.pass).to.equal(false);
    expect(body.verdict.reasons.join('\n')).to.include('response body differs');
  });

  it('POST /json converts the original koala ReplayingSession (base64 fields)', async () => {
    const b64 = (t: string) => Buffer.from(t).toString('base64');
    const ref = {
      SessionId: 'ref-1',
      CallFromInbound: { OccurredAt: 1, Request: b64('GET /r HTTP/1.1\r\nHost: x\r\n\r\n') },
      returninbound: { Response: b64(httpOk('hi /r')) },
      CallOutbounds: [],
      MockFiles: {},
    };
    const res = await post('/json', JSON.stringify(ref));
    expect(res.status).to.equal(200);
    const body = (await res.json()) as { sessionId: string; verdict: { pass: boolean } };
    expect(body.sessionId).to.equal('ref-1');
    expect(body.verdict.pass).to.equal(true);
  });

  it('answers 400 with a reason on malformed input, never an empty 200', async () => {
    for (const [path, body, needle] of [
      ['/replay', '', 'empty body'],
      ['/replay', '{"v":1', 'not a session line'],
      ['/json', 'nope', 'not JSON'],
      ['/json', '{"SessionId":"x"}', 'CallFromInbound is missing'],
      ['/json', '{"SessionId":"x","CallFromInbound":{"Request":"%%%"},"ReturnInbound":{}}', 'base64'],
    ] as const) {
      const res = await post(path, body);
      expect(res.status, `${path} ${body}`).to.equal(400);
      expect(((await res.json()) as { error: string }).error).to.include(needle);
    }
    expect((await post('/replay', '', 'GET')).status).to.equal(405);
    expect((await post('/nowhere', '')).status).to.equal(404);
  });

  it('a record-mode gateway refuses replaySession with KOALA_ERR_REPLAY', async () => {
    const rec = await startGateway({ agentSocket: join(dir, 'rec.sock'), agentGrpcAddr: '127.0.0.1:0' });
    try {
      expect(rec.outboundAddr).to.equal(undefined);
      const err = await rec.replaySession(makeSession('x', { request: 'GET / HTTP/1.1\r\n\r\n', response: '' })).catch((e: unknown) => e);
      expect(isKoalaError(err, 'KOALA_ERR_REPLAY')).to.equal(true);
    } finally {
      await rec.close();
    }
  });
});

describe('ReplayApi body limit', () => {
  let api: ReplayApi;
  let replayed = 0;

  before(async () => {
    const replayer = {
      replaySession: () => {
        replayed += 1;
        return Promise.reject(new Error('not reached'));
      },
    };
    api = new ReplayApi(replayer, Logger.silent(), { maxBodyBytes: 1024 });
    await api.listen({ host: '127.0.0.1', port: 0 });
  });

  after(() => api?.close());

  it('answers 413 with a reason and Connection: close to a body over the limit, still being sent', async () => {
    // Megabytes over a 1 KiB limit: the client is still writing when the answer goes out.
    for (const size of [1025, 8 * 1024 * 1024]) {
      const res = await fetch(`http://${api.address}/replay`, { method: 'POST', body: 'x'.repeat(size) });
      expect(res.status, `${size} bytes`).to.equal(413);
      expect(res.headers.get('connection')).to.equal('close');
      expect(((await res.json()) as { error: string }).error).to.equal('body larger than 1024 bytes');
    }
    expect(replayed).to.equal(0);
  });

  it('still reads a body at the limit', async () => {
    const res = await fetch(`http://${api.address}/replay`, { method: 'POST', body: ' '.repeat(1024) });
    expect(res.status).to.equal(400);
    expect(((await res.json()) as { error: string }).error).to.include('empty body');
  });
});

describe('Gateway replay noise option', () => {
  let dir: string;
  let sut: Server;
  let sutPort: number;
  const gateways: Gateway[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'koala-replay-noise-'));
    // Answers with a fresh Date (ignored by default) and a fresh X-Ts (only ignored when asked).
    sut = createServer((_req, res) => {
      res.setHeader('Connection', 'close');
      res.setHeader('X-Ts', String(Date.now()));
      res.end('same');
    });
    await new Promise<void>((r) => sut.listen(0, '127.0.0.1', r));
    sutPort = (sut.address() as AddressInfo).port;
  });
  after(async () => {
    for (const g of gateways.splice(0)) await g.close();
    await new Promise((r) => sut?.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  const replayWith = async (noise: { ignoreHeaders: string[] } | undefined) => {
    const gw = await startGateway({
      mode: 'replay',
      agentSocket: join(dir, `agent-${gateways.length}.sock`),
      agentGrpcAddr: '127.0.0.1:0',
      outboundAddr: '127.0.0.1:0',
      sutAddr: `127.0.0.1:${sutPort}`,
      replay: { api: false, ...(noise ? { noise } : {}) },
    });
    gateways.push(gw);
    const recorded = 'HTTP/1.1 200 OK\r\nX-Ts: 1\r\nDate: Mon, 01 Jan 2001 00:00:00 GMT\r\nConnection: close\r\nContent-Length: 4\r\n\r\nsame';
    return gw.replaySession(makeSession('noise-1', { request: 'GET /n HTTP/1.1\r\nHost: x\r\n\r\n', response: recorded }));
  };

  it('adds the user rules to the defaults instead of replacing them', async () => {
    const merged = await replayWith({ ignoreHeaders: ['X-Ts'] });
    expect(merged.verdict.reasons).to.deep.equal([]);
    const defaults = await replayWith(undefined);
    expect(defaults.verdict.reasons.join('\n')).to.match(/x-ts/i);
    expect(defaults.verdict.reasons.join('\n')).not.to.match(/date/i);
  });
});
