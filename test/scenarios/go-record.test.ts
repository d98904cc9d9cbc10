/**
 * Record scenarios for a Go SUT built with -tags koala_go and the overlay (S1, S2, S3, S5, S6, S8):
 * a real SUT process, real downstreams, an in-process gateway; sessions are compared byte for
 * byte with what the test sent and received.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Transport, type Session, type Talk } from '../../src/generated/koala/v1/session.pb.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import {
  buildGoSut,
  foreignTokens,
  RawHttpClient,
  sessionToken,
  startGoDeps,
  startGoSut,
  waitForGoAgent,
  type GoDeps,
  type RawResponse,
} from '../helpers/go-sut.js';
import { encodeResp } from '../helpers/redis.js';
import type { Sut } from '../helpers/sut.js';

const run = randomBytes(3).toString('hex');
let seq = 0;
const newToken = (tag: string): string => `${tag}-${run}-${seq++}`;

describe('Go SUT record scenarios', function () {
  this.timeout(900_000);
  let deps: GoDeps;
  let gw: TestGateway;
  let sut: Sut;

  before(async function () {
    const [bin, d] = await Promise.all([buildGoSut('hooked'), startGoDeps()]);
    deps = d;
    gw = await startTestGateway();
    sut = await startGoSut(bin, { name: 'go-sut', gatewayAddr: gw.gateway.agentGrpcAddr, downstreams: deps.downstreams });
    // The agent connects in the background: wait for it, so the first request is recorded.
    await waitForGoAgent(gw);
  });

  after(async function () {
    await sut?.stop();
    await gw?.close();
    await deps?.stop();
  });

  /** Sends each path on its own connection, one after another; returns the exchanges. */
  async function oneEach(paths: string[]): Promise<Array<{ token: string; sent: Buffer; received: Buffer; body: string }>> {
    const out = [];
    for (const p of paths) {
      const c = await RawHttpClient.connect(sut.port);
      const r = await c.get(p);
      await c.close();
      expect(r.status, r.body).to.equal(200);
      out.push({ token: /token=([^&]+)/.exec(p)![1], ...r });
    }
    return out;
  }

  function sessionOf(token: string): Promise<Session> {
    return gw.waitForSessions(1, { filter: (s) => sessionToken(s) === token }).then((s) => {
      expect(s, `sessions with token ${token}`).to.have.length(1);
      return s[0];
    });
  }

  const text = (b: Buffer): string => b.toString('latin1');
  const to = (port: number) => (t: Talk) => t.peer?.port === port;

  it('S1: three requests on one keep-alive connection are three sessions with the exact bytes', async function () {
    const tokens = [newToken('s1'), newToken('s1'), newToken('s1')];
    const c = await RawHttpClient.connect(sut.port);
    const exchanges: RawResponse[] = [];
    for (const t of tokens) exchanges.push(await c.get(`/long?token=${t}`));
    await c.close();
    const sessions = await Promise.all(tokens.map(sessionOf));
    sessions.forEach((s, i) => {
      expect(s.sut).to.equal('go-sut');
      expect(s.pid).to.equal(sut.pid);
      expect(text(s.inbound!.request)).to.equal(text(exchanges[i].sent));
      expect(text(s.inbound!.response)).to.equal(text(exchanges[i].received));
      expect(exchanges[i].body).to.equal(`long=echo long ${tokens[i]}\n`);
      expect(s.inbound!.connId).to.equal(sessions[0].inbound!.connId);
      expect(s.completeness?.droppedEvents ?? 0n).to.equal(0n);
    });
  });

  it('S2: a connection opened at start-up carries each request\'s talk in that request\'s session', async function () {
    const tokens = [newToken('s2'), newToken('s2'), newToken('s2')];
    await oneEach(tokens.map((t) => `/long?token=${t}`));
    const sessions = await Promise.all(tokens.map(sessionOf));
    sessions.forEach((s, i) => {
      expect(s.talks, `talks of ${tokens[i]}`).to.have.length(1);
      const t = s.talks[0];
      expect(t.transport).to.equal(Transport.TRANSPORT_TCP);
      expect(t.peer?.port, 'original destination').to.equal(deps.line.port);
      expect(text(t.request)).to.equal(`long ${tokens[i]}\n`);
      expect(text(t.response)).to.equal(`echo long ${tokens[i]}\n`);
      expect(t.oneWay).to.equal(false);
      expect(t.connId).to.equal(sessions[0].talks[0].connId);
    });
    // Two long connections (long + oneway) since start-up, no new ones per request.
    expect(deps.line.connections()).to.equal(2);
  });

  it('S3: every session on the pooled MariaDB connection carries its greeting and auth prelude', async function () {
    const tokens = [newToken('s3'), newToken('s3'), newToken('s3')];
    await oneEach(tokens.map((t) => `/fanout?token=${t}`));
    const sessions = await Promise.all(tokens.map(sessionOf));
    const mysqlConn = new Set<bigint>();
    for (const [i, s] of sessions.entries()) {
      const q = s.talks.filter(to(deps.mysql.port));
      expect(q, `mysql talks of ${tokens[i]}`).to.have.length(1);
      expect(text(q[0].request)).to.equal(text(comQuery(`SELECT '${tokens[i]}'`)));
      expect(text(q[0].response)).to.include(tokens[i]);
      const pre = s.preludes.find((p) => p.connId === q[0].connId);
      expect(pre, `prelude of mysql conn in ${tokens[i]}`).to.not.equal(undefined);
      expect(pre!.serverFirst).to.equal(true);
      expect(pre!.peer?.port).to.equal(deps.mysql.port);
      const [greeting, ...rest] = pre!.talks;
      expect(greeting.request.length).to.equal(0);
      expect(greeting.response[4], 'protocol version 10 greeting').to.equal(0x0a);
      expect(text(greeting.response)).to.include('MariaDB');
      expect(rest.length).to.be.greaterThan(0);
      expect(text(rest[0].request), 'auth packet names the user').to.include(deps.mysql.user);
      const last = rest[rest.length - 1].response;
      expect(last[4], 'auth ends with OK').to.equal(0x00);
      mysqlConn.add(q[0].connId);
    }
    expect(mysqlConn.size, 'the pool reused one connection').to.equal(1);
  });

  it('S5: fan-out two goroutines deep puts HTTP, Redis and MySQL talks in the request\'s session', async function () {
    const tokens = [newToken('s5'), newToken('s5'), newToken('s5')];
    for (const t of tokens) await deps.redis.command('SET', `key:${t}`, `val-${t}`);
    const ex = await oneEach(tokens.map((t) => `/fanout?token=${t}`));
    ex.forEach((e, i) => expect(e.body).to.equal(`http=echo:${tokens[i]} redis=val-${tokens[i]} mysql=${tokens[i]}\n`));
    const sessions = await Promise.all(tokens.map(sessionOf));
    for (const [i, s] of sessions.entries()) {
      const tok = tokens[i];
      expect(foreignTokens(s, tok), `foreign tokens in ${tok}`).to.deep.equal([]);
      const h = s.talks.filter(to(deps.http.port));
      expect(h, 'http talks').to.have.length(1);
      expect(text(h[0].request)).to.equal(
        `GET /echo?token=${tok} HTTP/1.1\r\nHost: 127.0.0.1:${deps.http.port}\r\nUser-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n`,
      );
      expect(text(h[0].response)).to.match(/^HTTP\/1\.1 200 OK\r\n/);
      expect(text(h[0].response).endsWith(`\r\n\r\necho:${tok}\n`)).to.equal(true);
      const r = s.talks.filter(to(deps.redis.port)).filter((t) => text(t.request).includes(tok));
      expect(r, 'redis GET talks').to.have.length(1);
      expect(text(r[0].request)).to.equal(encodeResp(['get', `key:${tok}`]));
      expect(text(r[0].response)).to.equal(`$${`val-${tok}`.length}\r\nval-${tok}\r\n`);
      // Besides the GET, a Redis talk can only be go-redis's HELLO on a connection it just opened.
      for (const t of s.talks.filter(to(deps.redis.port)).filter((t) => t !== r[0])) {
        expect(text(t.request)).to.match(/^\*2\r\n\$5\r\nhello\r\n/);
      }
      expect(s.talks.filter(to(deps.mysql.port)), 'mysql talks').to.have.length(1);
      expect(s.talks.every((t) => [deps.http.port, deps.redis.port, deps.mysql.port].includes(t.peer?.port ?? -1))).to.equal(true);
    }
  });

  it('S5: a worker pool that delegates puts the worker\'s talk in the request\'s session', async function () {
    const tokens = [newToken('pool'), newToken('pool'), newToken('pool')];
    const ex = await oneEach(tokens.map((t) => `/pool?token=${t}`));
    ex.forEach((e, i) => expect(e.body).to.equal(`pool=echo:${tokens[i]}\n`));
    const sessions = await Promise.all(tokens.map(sessionOf));
    for (const [i, s] of sessions.entries()) {
      expect(foreignTokens(s, tokens[i]), `foreign tokens in ${tokens[i]}`).to.deep.equal([]);
      expect(s.talks, `talks of ${tokens[i]}`).to.have.length(1);
      expect(s.talks[0].peer?.port).to.equal(deps.http.port);
      expect(text(s.talks[0].request)).to.include(`GET /echo?token=${tokens[i]} HTTP/1.1\r\n`);
    }
  });

  it('S6: a fire-and-forget line marked with OneWay is a one-way talk before the request/response talk', async function () {
    const tok = newToken('s6');
    const [e] = await oneEach([`/oneway?token=${tok}`]);
    expect(e.body).to.equal(`oneway=echo ask ${tok}\n`);
    const s = await sessionOf(tok);
    expect(s.talks.map((t) => [text(t.request), text(t.response), t.oneWay])).to.deep.equal([
      [`fire ${tok}\n`, '', true],
      [`ask ${tok}\n`, `echo ask ${tok}\n`, false],
    ]);
    expect(s.talks[0].connId).to.equal(s.talks[1].connId);
    expect(s.talks[0].peer?.port).to.equal(deps.line.port);
  });

  it('S8: three pipelined Redis commands in one write are one talk with the three replies', async function () {
    const tok = newToken('s8');
    const [e] = await oneEach([`/pipeline?token=${tok}`]);
    expect(e.body).to.equal(`pipeline=OK,${tok},1\n`);
    const s = await sessionOf(tok);
    expect(s.talks).to.have.length(1);
    const t = s.talks[0];
    expect(t.peer?.port).to.equal(deps.redis.port);
    const key = `pipe:${tok}`;
    expect(text(t.request)).to.equal(encodeResp(['SET', key, tok]) + encodeResp(['GET', key]) + encodeResp(['DEL', key]));
    expect(text(t.response)).to.equal(`+OK\r\n$${tok.length}\r\n${tok}\r\n:1\r\n`);
  });
});

/** A MySQL COM_QUERY packet (sequence 0). */
function comQuery(sql: string): Buffer {
  const body = Buffer.concat([Buffer.from([0x03]), Buffer.from(sql, 'latin1')]);
  const head = Buffer.from([body.length & 0xff, (body.length >> 8) & 0xff, (body.length >> 16) & 0xff, 0]);
  return Buffer.concat([head, body]);
}
