/**
 * Record scenarios S1, S3 (real MariaDB through a pooled PyMySQL client), S6, S7 and S11 (inbound
 * body) against the Python ThreadingHTTPServer SUT under the shim.
 */
import { expect } from 'chai';
import { Transport, type Session } from '../../src/index.js';
import { RawHttpConnection, bodyOf, getRequest, statusOf } from '../helpers/raw-http.js';
import { startScenarioEnv, type ScenarioEnv } from '../helpers/scenario-env.js';
import { expectBytes, expectComplete, expectInbound, expectTalks, sessionWith } from '../helpers/session-assert.js';
import { startPySut, type Sut } from '../helpers/sut.js';

const NAME = 'py-sut';

/** MySQL COM_QUERY packet: 3-byte little-endian length, sequence 0, command 0x03, the SQL. */
function comQuery(sql: string): Buffer {
  const payload = Buffer.concat([Buffer.from([0x03]), Buffer.from(sql)]);
  const head = Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, payload.length >> 16, 0]);
  return Buffer.concat([head, payload]);
}

describe('record: Python SUT (ThreadingHTTPServer)', function () {
  this.timeout(90_000);
  let env: ScenarioEnv;
  let sut: Sut;

  before(async function () {
    this.timeout(120_000);
    env = await startScenarioEnv({ redis: true, mariadb: true });
    sut = await startPySut({ name: NAME, agentSocket: env.gateway.agentSocket, downstreams: env.downstreams });
    env.suts.push(sut);
  });

  after(async function () {
    this.timeout(60_000);
    await env?.stop();
  });

  const mine = (needle: string) => ({ filter: (s: Session) => s.sut === NAME && !!s.inbound?.request.includes(needle) });

  /** Requests on one keep-alive connection, closed afterwards so the last session ends. */
  async function calls(paths: string[]): Promise<Array<{ sent: string; received: Buffer }>> {
    const conn = await RawHttpConnection.open(sut.port);
    const out = [];
    try {
      for (const p of paths) {
        const sent = getRequest(p);
        const received = await conn.request(sent);
        expect(statusOf(received), `status of ${p}: ${received.toString('latin1')}`).to.equal(200);
        out.push({ sent, received });
      }
    } finally {
      conn.close();
    }
    return out;
  }

  it('S1: three sequential requests on one keep-alive connection are three sessions', async () => {
    const ex = await calls([0, 1, 2].map((i) => `/hello?token=py1-${i}`));
    const sessions = await env.gateway.waitForSessions(3, mine('token=py1-'));
    expect(sessions).to.have.lengthOf(3);
    expect(new Set(sessions.map((s) => s.inbound?.connId)).size, 'one inbound connection').to.equal(1);
    ex.forEach(({ sent, received }, i) => {
      expect(bodyOf(received).toString()).to.equal(`hello py1-${i}\n`);
      const s = sessionWith(sessions, `token=py1-${i} `);
      expectInbound(s, sent, received, sut.port);
      expectTalks(s, []);
      expectComplete(s);
    });
  });

  it('S3: pooled MariaDB connections: each session carries the server-first greeting and auth prelude', async () => {
    const tokens = ['py3-a', 'py3-b', 'py3-c', 'py3-d'];
    const ex = await calls(tokens.map((t) => `/mysql?token=${t}`));
    const sessions = await env.gateway.waitForSessions(4, mine('token=py3-'));
    expect(sessions).to.have.lengthOf(4);
    const db = env.mariadb!;
    tokens.forEach((t, i) => {
      const s = sessionWith(sessions, `token=${t} `);
      expect(bodyOf(ex[i]!.received).toString()).to.equal(`mysql ${t}\n`);
      expectInbound(s, ex[i]!.sent, ex[i]!.received, sut.port);
      expectTalks(s, [{ port: db.port, request: comQuery(`SELECT '${t}'`) }]);
      expect(s.talks[0]!.response.includes(t), 'result set holds the token').to.equal(true);
      expect(s.preludes, 'one prelude: the connection this session used').to.have.lengthOf(1);
      const p = s.preludes[0]!;
      expect(p.connId).to.equal(s.talks[0]!.connId);
      expect(p.peer?.port).to.equal(db.port);
      expect(p.serverFirst, 'server_first').to.equal(true);
      expect(p.talks.length, 'greeting talk and auth talk').to.be.at.least(2);
      const greeting = p.talks[0]!;
      expectBytes(greeting.request, '', 'greeting talk has an empty request');
      expect(greeting.response[4], 'protocol version 10').to.equal(10);
      expect(greeting.response.includes('MariaDB'), 'greeting names the server').to.equal(true);
      expect(greeting.response.includes('mysql_native_password')).to.equal(true);
      const auth = p.talks[1]!;
      expect(auth.request.includes(db.user), 'handshake response names the user').to.equal(true);
      expect(auth.request.includes(db.database), 'handshake response names the database').to.equal(true);
      const last = p.talks[p.talks.length - 1]!;
      expect(last.response[4], 'the auth phase ends with OK').to.equal(0x00);
      expectComplete(s);
    });
  });

  it('S6: fire-and-forget then request on one connection: two talks, the first one-way', async () => {
    const tokens = ['py6-a', 'py6-b'];
    await calls(tokens.map((t) => `/oneway?token=${t}`));
    const sessions = await env.gateway.waitForSessions(2, mine('token=py6-'));
    for (const t of tokens) {
      const s = sessionWith(sessions, `token=${t} `);
      expectTalks(s, [
        { port: env.line.port, request: `fire ${t}\n`, response: '', oneWay: true },
        { port: env.line.port, request: `req ${t}\n`, response: `echo req ${t}\n` },
      ]);
      expectComplete(s);
    }
  });

  it('S7: a UDP datagram per request is a one-way UDP talk', async () => {
    const tokens = ['py7-a', 'py7-b'];
    await calls(tokens.map((t) => `/udp?token=${t}`));
    const sessions = await env.gateway.waitForSessions(2, mine('token=py7-'));
    for (const t of tokens) {
      const s = sessionWith(sessions, `token=${t} `);
      expectTalks(s, [{ port: env.udp.port, request: `hits.${t}:1|c`, response: '', oneWay: true, transport: Transport.TRANSPORT_UDP }]);
      expectComplete(s);
    }
  });

  it('S11: a 1 MB inbound body is recorded losslessly', async () => {
    const body = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = 0x30 + (i % 41);
    const sent = Buffer.concat([Buffer.from(`POST /upload?token=py11 HTTP/1.1\r\nHost: sut\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
    const conn = await RawHttpConnection.open(sut.port);
    const received = await conn.request(sent);
    conn.close();
    expect(bodyOf(received).toString()).to.equal(`upload ${body.length}\n`);
    const [s] = await env.gateway.waitForSessions(1, mine('token=py11 '));
    expectInbound(s!, sent, received, sut.port);
    expectTalks(s!, []);
    expectComplete(s!);
  });
});
