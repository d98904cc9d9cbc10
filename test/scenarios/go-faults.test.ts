/**
 * S12 for a Go SUT: the gateway absent when the SUT starts, closed mid-run, and a new gateway on
 * the same address. The SUT serves throughout; recording starts and resumes by itself.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import {
  buildGoSut,
  RawHttpClient,
  sessionToken,
  startGoDeps,
  startGoSut,
  waitForGoAgent,
  type GoDeps,
} from '../helpers/go-sut.js';
import { freePort } from '../helpers/ports.js';
import type { Sut } from '../helpers/sut.js';
import { sleep, waitFor } from '../helpers/wait.js';

describe('Go SUT with the gateway absent, gone and back', function () {
  this.timeout(900_000);
  const run = randomBytes(3).toString('hex');
  let n = 0;
  let deps: GoDeps;
  let sut: Sut;
  let addr: string;
  const gateways: TestGateway[] = [];

  before(async function () {
    const [bin, d] = await Promise.all([buildGoSut('hooked'), startGoDeps()]);
    deps = d;
    addr = `127.0.0.1:${await freePort()}`;
    sut = await startGoSut(bin, { gatewayAddr: addr, downstreams: deps.downstreams });
  });

  after(async function () {
    await sut?.stop();
    for (const g of gateways) await g.close();
    await deps?.stop();
  });

  /** `count` /fanout requests on fresh connections; all must succeed promptly. Returns tokens. */
  async function serve(count: number, tag: string): Promise<string[]> {
    const tokens: string[] = [];
    for (let i = 0; i < count; i++) {
      const token = `${tag}-${run}-${n++}`;
      const began = Date.now();
      const c = await RawHttpClient.connect(sut.port);
      const r = await c.get(`/fanout?token=${token}`);
      await c.close();
      expect(r.status, r.body).to.equal(200);
      expect(r.body).to.equal(`http=echo:${token} redis=(nil) mysql=${token}\n`);
      expect(Date.now() - began, 'request latency').to.be.below(2_000);
      tokens.push(token);
    }
    return tokens;
  }

  /** A gateway on the SUT's configured address (the port may need a moment to be free again). */
  async function gatewayOnAddr(): Promise<TestGateway> {
    const g = await waitFor('the gateway address to be free', () => startTestGateway({ agentGrpcAddr: addr }).catch(() => undefined), 10_000, 100);
    gateways.push(g);
    return g;
  }

  const recorded = (g: TestGateway, tokens: string[]): Promise<unknown> =>
    g.waitForSessions(tokens.length, { filter: (s) => tokens.includes(sessionToken(s) ?? ''), timeoutMs: 30_000 });

  let absent: string[] = [];

  it('serves normally while no gateway listens', async function () {
    absent = await serve(10, 'absent');
    expect(sut.child.proc.exitCode).to.equal(null);
  });

  it('starts recording when a gateway appears on its address, with what it buffered meanwhile', async function () {
    const g = await gatewayOnAddr();
    await waitForGoAgent(g);
    const tokens = await serve(5, 'first');
    await recorded(g, tokens);
    // The agent kept the events of the requests served while the gateway was absent.
    await recorded(g, absent);
    expect(g.stats().droppedEvents).to.equal(0);
  });

  it('keeps serving when the gateway closes mid-run, and records again on a new gateway', async function () {
    const g1 = gateways[gateways.length - 1];
    // Requests in flight while the gateway closes.
    const during = serve(20, 'during');
    await sleep(50);
    await g1.close();
    await during;
    await serve(10, 'gone');
    expect(sut.child.proc.exitCode).to.equal(null);

    const g2 = await gatewayOnAddr();
    await waitForGoAgent(g2);
    const tokens = await serve(5, 'again');
    await recorded(g2, tokens);
    expect(g2.sessions.filter((s) => tokens.includes(sessionToken(s) ?? '')).length).to.equal(5);
  });

  it('counts what overflows a small buffer while the gateway is absent, and reports it when it appears', async function () {
    const smallAddr = `127.0.0.1:${await freePort()}`;
    const small = await startGoSut(await buildGoSut('hooked'), {
      gatewayAddr: smallAddr,
      downstreams: deps.downstreams,
      env: { KOALA_BUFFER_SIZE: '65536' },
    });
    try {
      const tokens: string[] = [];
      for (let i = 0; i < 100; i++) {
        const token = `small-${run}-${i}`;
        const c = await RawHttpClient.connect(small.port);
        const r = await c.get(`/fanout?token=${token}`);
        await c.close();
        expect(r.status, r.body).to.equal(200);
        tokens.push(token);
      }
      // Now a gateway on that SUT's address: buffered events, then a drop report.
      const g = await waitFor('a gateway on the small SUT address', () => startTestGateway({ agentGrpcAddr: smallAddr }).catch(() => undefined), 10_000, 100);
      gateways.push(g);
      await waitFor('the drop report', () => g.stats().droppedEvents > 0, 20_000);
      await sleep(3_000); // let the buffered sessions end (idle) and be emitted
      const sessions = g.sessions.filter((s) => tokens.includes(sessionToken(s) ?? ''));
      const got = new Set(sessions.map((s) => sessionToken(s)));
      expect(got.size, 'one session per recorded request').to.equal(sessions.length);
      const missing = tokens.filter((t) => !got.has(t)).length;
      console.log(`      100 requests, ${sessions.length} sessions, ${missing} missing, ${g.stats().droppedEvents} events reported dropped`);
      expect(missing, 'a 64 KiB buffer cannot hold 100 requests').to.be.greaterThan(0);
      expect(sessions.length, 'the buffered requests are recorded').to.be.greaterThan(0);
      expect(missing).to.be.at.most(g.stats().droppedEvents);
    } finally {
      await small.stop();
    }
  });
});
