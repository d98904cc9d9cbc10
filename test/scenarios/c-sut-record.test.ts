/**
 * Record scenarios S1, S2, S6, S7, S8, S9 and S11 against the C SUTs (thread per connection and
 * worker pool), under the real shim and an in-process gateway, with real downstreams.
 */
import { expect } from 'chai';
import { Transport } from '../../src/index.js';
import { bigBody } from '../helpers/downstream.js';
import { RawHttpConnection, bodyOf, getRequest, oneShot, statusOf } from '../helpers/raw-http.js';
import { startScenarioEnv, type ScenarioEnv } from '../helpers/scenario-env.js';
import { expectBytes, expectComplete, expectInbound, expectTalks, respCommand, sessionWith } from '../helpers/session-assert.js';
import { buildCSut, startCSut, type CSutKind, type Sut } from '../helpers/sut.js';
import { waitFor } from '../helpers/wait.js';

const echoRequest = (token: string, close = false): string =>
  `GET /echo?token=${token} HTTP/1.1\r\nHost: downstream\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;

for (const kind of ['thread-per-conn', 'worker-pool'] as CSutKind[]) {
  describe(`record: C SUT (${kind})`, function () {
    this.timeout(90_000);
    let env: ScenarioEnv;
    let sut: Sut;
    let cleanupBin: (() => void) | undefined;
    const name = `c-${kind}`;
    // Every request on a fresh connection that the client closes, so sessions end promptly.
    const keepAliveSut = kind === 'thread-per-conn';

    before(async function () {
      this.timeout(120_000);
      const built = buildCSut(kind);
      cleanupBin = built.cleanup;
      env = await startScenarioEnv({ redis: true });
      sut = await startCSut(built.bin, { name, agentSocket: env.gateway.agentSocket, downstreams: env.downstreams });
      env.suts.push(sut);
    });

    after(async function () {
      this.timeout(60_000);
      await env?.stop();
      cleanupBin?.();
    });

    /** Sends one GET on a fresh connection; returns what was sent and received. */
    async function call(path: string): Promise<{ sent: string; received: Buffer }> {
      const sent = getRequest(path, { close: !keepAliveSut });
      const received = await oneShot(sut.port, sent);
      expect(statusOf(received), `status of ${path}: ${received.toString('latin1')}`).to.equal(200);
      return { sent, received };
    }

    const mine = (token: string) => ({ filter: (s: { sut: string; inbound?: { request: Buffer } }) => s.sut === name && !!s.inbound?.request.includes(token) });

    if (keepAliveSut) {
      it('S1: three sequential requests on one keep-alive connection are three sessions', async () => {
        const conn = await RawHttpConnection.open(sut.port);
        const exchanges: Array<{ sent: string; received: Buffer }> = [];
        for (let i = 0; i < 3; i++) {
          const sent = getRequest(`/hello?token=s1-${i}`);
          exchanges.push({ sent, received: await conn.request(sent) });
        }
        const clientPort = conn.localPort;
        conn.close();
        const sessions = await env.gateway.waitForSessions(3, mine('token=s1-'));
        expect(sessions).to.have.lengthOf(3);
        const connIds = new Set(sessions.map((s) => s.inbound?.connId));
        expect(connIds.size, 'one inbound connection').to.equal(1);
        exchanges.forEach(({ sent, received }, i) => {
          expect(bodyOf(received).toString()).to.equal(`hello s1-${i}\n`);
          const s = sessionWith(sessions, `token=s1-${i} `);
          expectInbound(s, sent, received, sut.port);
          expect(s.inbound?.peer?.port, 'client port').to.equal(clientPort);
          expectTalks(s, []);
          expectComplete(s);
        });
      });
    }

    it('S2: a connection opened at start-up carries each request\'s talk in its own session', async () => {
      const tokens = ['s2-a', 's2-b', 's2-c'];
      const calls = [];
      for (const t of tokens) calls.push(await call(`/long?token=${t}`));
      const sessions = await env.gateway.waitForSessions(3, mine('token=s2-'));
      expect(sessions).to.have.lengthOf(3);
      const conns = new Set<bigint>();
      for (const [i, t] of tokens.entries()) {
        const s = sessionWith(sessions, `token=${t} `);
        const down = await env.httpDirect(echoRequest(t));
        expectInbound(s, calls[i]!.sent, calls[i]!.received, sut.port);
        expectBytes(bodyOf(calls[i]!.received), bodyOf(down), 'SUT answers the downstream body');
        expectTalks(s, [{ port: env.http.port, request: echoRequest(t), response: down }]);
        conns.add(s.talks[0]!.connId);
        expectComplete(s);
      }
      expect(conns.size, 'the same long connection in every session').to.equal(1);
    });

    it('S6: fire-and-forget then request on one connection: two talks, the first one-way', async () => {
      const tokens = ['s6-a', 's6-b'];
      for (const t of tokens) await call(`/oneway?token=${t}`);
      const sessions = await env.gateway.waitForSessions(2, mine('token=s6-'));
      expect(sessions).to.have.lengthOf(2);
      for (const t of tokens) {
        const s = sessionWith(sessions, `token=${t} `);
        expectTalks(s, [
          { port: env.line.port, request: `fire ${t}\n`, response: '', oneWay: true },
          { port: env.line.port, request: `req ${t}\n`, response: `echo req ${t}\n` },
        ]);
        expect(s.talks[0]!.connId).to.equal(s.talks[1]!.connId);
        expectComplete(s);
      }
    });

    it('S7: a UDP datagram per request is a one-way UDP talk', async () => {
      const tokens = ['s7-a', 's7-b'];
      for (const t of tokens) await call(`/udp?token=${t}`);
      const sessions = await env.gateway.waitForSessions(2, mine('token=s7-'));
      for (const t of tokens) {
        const s = sessionWith(sessions, `token=${t} `);
        expectTalks(s, [{ port: env.udp.port, request: `hits.${t}:1|c`, response: '', oneWay: true, transport: Transport.TRANSPORT_UDP }]);
        expectComplete(s);
      }
      // The SUT sent each datagram before its HTTP response, but this process may see the session
      // (over the agent socket) before its UDP socket's message event: wait for the datagrams.
      const wanted = tokens.map((t) => `hits.${t}:1|c`);
      await waitFor('both datagrams at the UDP server', () => wanted.every((w) => env.udp.datagrams.map(String).includes(w)) || undefined, 5000);
      expect(env.udp.datagrams.map(String)).to.include.members(wanted);
    });

    it('S8: three pipelined Redis commands in one write are one talk with three replies', async () => {
      const t = 's8-a';
      await call(`/pipeline?token=${t}`);
      const [s] = await env.gateway.waitForSessions(1, mine(`token=${t} `));
      const request = respCommand('SET', `k:${t}`, `v:${t}`) + respCommand('GET', `k:${t}`) + respCommand('DEL', `k:${t}`);
      expectTalks(s!, [{ port: env.redis!.port, request, response: `+OK\r\n$${`v:${t}`.length}\r\nv:${t}\r\n:1\r\n` }]);
      expectComplete(s!);
    });

    it('S9: send A, send B, read A, read B: talks paired per connection', async () => {
      const t = 's9-a';
      await call(`/interleave?token=${t}`);
      const [s] = await env.gateway.waitForSessions(1, mine(`token=${t} `));
      const downA = await env.httpDirect(echoRequest(`${t}-a`, true));
      expectTalks(s!, [
        { port: env.http.port, request: echoRequest(`${t}-a`, true), response: downA },
        { port: env.line.port, request: `${t}-b\n`, response: `echo ${t}-b\n` },
      ]);
      expect(s!.talks[0]!.connId).to.not.equal(s!.talks[1]!.connId);
      expectComplete(s!);
    });

    it('S11: a 5 MB downstream response and a 1 MB inbound body are recorded losslessly', async () => {
      const big = await call('/big?token=s11-down');
      expect(bodyOf(big.received).toString()).to.equal(`big ${bigBody().length}\n`);
      const body = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < body.length; i++) body[i] = 0x61 + (i % 23);
      const head = `POST /upload?token=s11-up HTTP/1.1\r\nHost: sut\r\nContent-Length: ${body.length}\r\n${keepAliveSut ? '' : 'Connection: close\r\n'}\r\n`;
      const sentUp = Buffer.concat([Buffer.from(head), body]);
      const receivedUp = await oneShot(sut.port, sentUp);
      expect(bodyOf(receivedUp).toString()).to.equal(`upload ${body.length}\n`);

      const [down] = await env.gateway.waitForSessions(1, mine('token=s11-down'));
      const downResponse = await env.httpDirect('GET /big HTTP/1.1\r\nHost: downstream\r\nConnection: close\r\n\r\n');
      expectInbound(down!, big.sent, big.received, sut.port);
      expectTalks(down!, [{ port: env.http.port, request: 'GET /big HTTP/1.1\r\nHost: downstream\r\nConnection: close\r\n\r\n', response: downResponse }]);
      expect(Number(down!.talks[0]!.responseLen)).to.equal(downResponse.length);
      expectComplete(down!);

      const [up] = await env.gateway.waitForSessions(1, mine('token=s11-up'));
      expectInbound(up!, sentUp, receivedUp, sut.port);
      expect(Number(up!.inbound?.requestLen)).to.equal(sentUp.length);
      expectTalks(up!, []);
      expectComplete(up!);
    });

    it('the store holds exactly the sessions the gateway emitted', async () => {
      const emitted = env.gateway.sessions.filter((s) => s.sut === name).map((s) => s.id).sort();
      const stored = (await env.gateway.readStore()).filter((s) => s.sut === name).map((s) => s.id).sort();
      expect(emitted.length).to.be.greaterThan(0);
      expect(stored).to.deep.equal(emitted);
    });
  });
}
