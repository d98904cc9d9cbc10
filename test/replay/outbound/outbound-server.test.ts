import { expect } from 'chai';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ReplayLedger } from '../../../src/replay/match/replay-ledger.js';
import { OutboundServer, type OutboundBinding, type OutboundCall } from '../../../src/replay/outbound/outbound-server.js';
import type { Session } from '../../../src/generated/koala/v1/session.pb.js';
import { addr, makePrelude, makeSession } from '../make-session.js';

interface Harness {
  server: OutboundServer;
  port: number;
  calls: OutboundCall[];
  bindings: Map<number, OutboundBinding>;
}

async function start(sessions: Session[], opts: { onNoMatch?: 'close' | 'error'; resolveDelayMs?: number } = {}): Promise<Harness> {
  const ledger = new ReplayLedger();
  for (const s of sessions) ledger.addSession(s);
  const bindings = new Map<number, OutboundBinding>();
  const calls: OutboundCall[] = [];
  const server = new OutboundServer({
    port: 0,
    ledger,
    onNoMatch: opts.onNoMatch,
    resolve: async (port) => {
      if (opts.resolveDelayMs !== undefined) await sleep(opts.resolveDelayMs);
      // Like the engine: wait (bounded) for the report, which the test files after connecting.
      const end = Date.now() + 300;
      while (!bindings.has(port) && Date.now() < end) await sleep(5);
      return bindings.get(port);
    },
    onCall: (c) => calls.push(c),
  });
  const info = await server.listen();
  return { server, port: info.port, calls, bindings };
}

async function dial(h: Harness, binding: OutboundBinding | undefined): Promise<Socket> {
  const sock = connect({ port: h.port, host: '127.0.0.1' });
  await new Promise((r) => sock.once('connect', r));
  if (binding !== undefined) h.bindings.set(sock.localPort ?? 0, binding);
  return sock;
}

/** Collects what the peer sends until `n` bytes arrived or the socket closed. */
function collect(sock: Socket): { bytes: () => Buffer; closed: Promise<void> } {
  const parts: Buffer[] = [];
  sock.on('data', (d: Buffer) => parts.push(d));
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  return { bytes: () => Buffer.concat(parts), closed };
}

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await sleep(5);
  }
}

const REDIS = '127.0.0.1:6379';
const PIPE = '*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n';

describe('OutboundServer', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.server.close();
    h = undefined;
  });

  it('waits for a late agent report, then answers a pipelined write with all recorded replies', async () => {
    h = await start([makeSession('s1', { request: 'x', response: 'y' }, [{ dst: REDIS, request: PIPE, response: '+PONG\r\n$1\r\n1\r\n$1\r\n2\r\n' }])], { resolveDelayMs: 150 });
    const sock = await dial(h, { sessionId: 's1', originalDst: addr(REDIS) });
    const got = collect(sock);
    sock.write(PIPE);
    await until(() => got.bytes().length >= 21);
    expect(got.bytes().toString()).to.equal('+PONG\r\n$1\r\n1\r\n$1\r\n2\r\n');
    expect(h.calls).to.have.length(1);
    expect(h.calls[0]).to.deep.include({ sessionId: 's1', reaction: 'recorded', protocol: 'resp' });
    sock.destroy();
  });

  it('never guesses: an unreported connection is closed and reported', async () => {
    h = await start([makeSession('s1', { request: 'x', response: 'y' }, [{ dst: REDIS, request: PIPE, response: '+OK\r\n' }])]);
    const sock = await dial(h, undefined);
    const got = collect(sock);
    sock.write(PIPE);
    await got.closed;
    expect(got.bytes().length).to.equal(0);
    expect(h.calls).to.have.length(1);
    expect(h.calls[0]?.decision.explanation).to.match(/no agent report/);
    expect(h.calls[0]?.reaction).to.equal('closed');
  });

  it('sends the recorded greeting at once and serves the handshake from the prelude', async () => {
    const greeting = Buffer.from([5, 0, 0, 0, 0x0a, 0x35, 0x2e, 0x37, 0]);
    const auth = Buffer.from([4, 0, 0, 1, 1, 2, 3, 4]);
    const ok = Buffer.from([7, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0]);
    const prelude = makePrelude('127.0.0.1:3306', [{ response: greeting }, { request: auth, response: ok }]);
    h = await start([makeSession('s1', { request: 'x', response: 'y' }, [], [prelude])]);
    const sock = await dial(h, { sessionId: 's1', originalDst: addr('127.0.0.1:3306') });
    const got = collect(sock);
    await until(() => got.bytes().length >= greeting.length);
    expect(got.bytes().equals(greeting)).to.equal(true);
    sock.write(auth);
    await until(() => got.bytes().length >= greeting.length + ok.length);
    expect(got.bytes().subarray(greeting.length).equals(ok)).to.equal(true);
    expect(h.calls[0]?.decision).to.include({ source: 'prelude', strategy: 'exact' });
    expect(h.calls[0]?.protocol).to.equal('mysql');
    sock.destroy();
  });

  it('frames an HTTP request sent in two parts far apart as one request', async () => {
    const req = 'POST /p HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789';
    h = await start([makeSession('s1', { request: 'x', response: 'y' }, [{ dst: '10.0.0.2:80', request: req, response: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n' }])]);
    const sock = await dial(h, { sessionId: 's1', originalDst: addr('10.0.0.2:80') });
    const got = collect(sock);
    sock.write(req.slice(0, 45));
    await sleep(250);
    sock.write(req.slice(45));
    await until(() => got.bytes().length > 0);
    expect(h.calls).to.have.length(1);
    expect(h.calls[0]?.request.toString()).to.equal(req);
    expect(h.calls[0]?.decision.strategy).to.equal('exact');
    sock.destroy();
  });

  it('writes nothing for a one-way talk and answers the next request', async () => {
    h = await start([makeSession('s1', { request: 'x', response: 'y' }, [
      { dst: '127.0.0.1:7000', request: 'LOG hello\n', oneWay: true },
      { dst: '127.0.0.1:7000', request: 'ASK?\n', response: 'ANSWER\n' },
    ])]);
    const sock = await dial(h, { sessionId: 's1', originalDst: addr('127.0.0.1:7000') });
    const got = collect(sock);
    sock.write('LOG hello\n');
    await until(() => h?.calls.length === 1);
    expect(h.calls[0]?.reaction).to.equal('one-way');
    sock.write('ASK?\n');
    await until(() => got.bytes().length > 0);
    expect(got.bytes().toString()).to.equal('ANSWER\n');
    sock.destroy();
  });

  it('answers an unmatched call with a protocol error in error mode, and closes in close mode', async () => {
    h = await start([makeSession('s1', { request: 'x', response: 'y' }, [{ dst: REDIS, request: PIPE, response: '+OK\r\n' }])], { onNoMatch: 'error' });
    const sock = await dial(h, { sessionId: 's1', originalDst: addr(REDIS) });
    const got = collect(sock);
    sock.write('*2\r\n$3\r\nDEL\r\n$3\r\nzzz\r\n');
    await until(() => got.bytes().length > 0);
    expect(got.bytes().toString()).to.equal('-ERR koala: no recorded talk\r\n');
    expect(h.calls[0]).to.deep.include({ reaction: 'error' });
    expect(h.calls[0]?.decision.matched).to.equal(false);
    sock.destroy();
    await h.server.close();

    h = await start([makeSession('s1', { request: 'x', response: 'y' }, [{ dst: '10.0.0.2:80', request: 'GET / HTTP/1.1\r\n\r\n', response: 'x' }])], { onNoMatch: 'close' });
    const s2 = await dial(h, { sessionId: 's1', originalDst: addr('10.0.0.2:80') });
    const g2 = collect(s2);
    s2.write('DELETE /everything HTTP/1.1\r\n\r\n');
    await g2.closed;
    expect(g2.bytes().length).to.equal(0);
    expect(h.calls[0]?.reaction).to.equal('closed');
  });

  it('replies 502 with a koala header to unmatched HTTP in error mode', async () => {
    h = await start([makeSession('s1', { request: 'x', response: 'y' }, [])], { onNoMatch: 'error' });
    const sock = await dial(h, { sessionId: 's1', originalDst: addr('10.0.0.2:80') });
    const got = collect(sock);
    sock.write('GET /nothing HTTP/1.1\r\n\r\n');
    await got.closed;
    expect(got.bytes().toString()).to.match(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
    expect(got.bytes().toString()).to.contain('X-Koala-Error: no recorded talk');
  });
});
