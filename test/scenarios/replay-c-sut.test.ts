/**
 * Replay scenarios S1, S2, S4 (worker pool with delegation), S6, S7, S8, S9 and S11 against the C
 * SUTs: record with real downstreams, stop them, put canaries on their ports, start a fresh SUT
 * under the shim in replay mode and replay every recorded session.
 */
import { expect } from 'chai';
import type { Session } from '../../src/index.js';
import type { SessionResult } from '../../src/replay/replay-engine.js';
import { RawHttpConnection, getRequest, oneShot, statusOf } from '../helpers/raw-http.js';
import { startScenarioEnv } from '../helpers/scenario-env.js';
import { buildCSut, startCSut, type CSutKind, type Downstreams, type Sut } from '../helpers/sut.js';
import { failures, replayAll, startCanaries, startReplayGateway, startReplaySut, waitForAgent, type Canaries, type ReplayGateway } from './replay-helpers.js';

const PATHS: Record<string, string[]> = {
  S2: ['/long?token=r2-a', '/long?token=r2-b', '/long?token=r2-c'],
  S4: ['/all?token=r4-a', '/fresh?token=r4-b', '/redis?token=r4-c'],
  S6: ['/oneway?token=r6-a', '/oneway?token=r6-b'],
  S7: ['/udp?token=r7-a', '/udp?token=r7-b'],
  S8: ['/pipeline?token=r8-a'],
  S9: ['/interleave?token=r9-a'],
  S11: ['/big?token=r11-down'],
};

for (const kind of ['thread-per-conn', 'worker-pool'] as CSutKind[]) {
  describe(`replay: C SUT (${kind})`, function () {
    this.timeout(120_000);
    const name = `c-${kind}-replay`;
    const keepAlive = kind === 'thread-per-conn';
    let bin: { bin: string; cleanup(): void } | undefined;
    let recorded: Session[] = [];
    let downstreams: Downstreams = {};
    let canaries: Canaries | undefined;
    let rg: ReplayGateway | undefined;
    let sut: Sut | undefined;
    const results = new Map<string, SessionResult>();

    before(async function () {
      this.timeout(180_000);
      bin = buildCSut(kind);
      const env = await startScenarioEnv({ redis: true });
      try {
        const rec = await startCSut(bin.bin, { name, agentSocket: env.gateway.agentSocket, downstreams: env.downstreams });
        env.suts.push(rec);
        let expected = 0;
        if (keepAlive) {
          const conn = await RawHttpConnection.open(rec.port);
          for (let i = 0; i < 3; i++) expect(statusOf(await conn.request(getRequest(`/hello?token=r1-${i}`)))).to.equal(200);
          conn.close();
          expected += 3;
        }
        for (const paths of Object.values(PATHS)) {
          for (const p of paths) {
            const res = await oneShot(rec.port, getRequest(p, { close: !keepAlive }));
            expect(statusOf(res), `${p}: ${res.toString('latin1', 0, 200)}`).to.equal(200);
            expected++;
          }
        }
        const body = Buffer.alloc(1024 * 1024, 0x61);
        const head = `POST /upload?token=r11-up HTTP/1.1\r\nHost: sut\r\nContent-Length: ${body.length}\r\n${keepAlive ? '' : 'Connection: close\r\n'}\r\n`;
        expect(statusOf(await oneShot(rec.port, Buffer.concat([Buffer.from(head), body])))).to.equal(200);
        expected++;
        recorded = await env.gateway.waitForSessions(expected, { filter: (s) => s.sut === name && (s.inbound?.request.length ?? 0) > 0 });
        downstreams = env.downstreams;
      } finally {
        await env.stop();
      }
      // The dependencies are gone; whatever reaches their ports now is a replay leak.
      canaries = await startCanaries([downstreams.http!, downstreams.line!, downstreams.redis!], [downstreams.udp!]);
      rg = await startReplayGateway();
      rg.gateway.preload(recorded);
      sut = await startReplaySut({ c: bin.bin }, name, rg, downstreams);
      await waitForAgent(rg.gateway, name);
      for (const r of await replayAll(rg.gateway, recorded, sut.port, 4)) results.set(r.sessionId, r);
    });

    after(async function () {
      this.timeout(60_000);
      await sut?.stop();
      await rg?.close();
      await canaries?.close();
      bin?.cleanup();
    });

    const byToken = (token: string): SessionResult[] =>
      recorded.filter((s) => s.inbound?.request.includes(`token=${token}`)).map((s) => results.get(s.id)!);

    function expectPass(tokens: string[], calls?: number): void {
      const rs = tokens.flatMap(byToken);
      expect(rs, `sessions for ${tokens.join(',')}`).to.have.lengthOf(tokens.length);
      expect(failures(rs), 'replay report').to.equal('');
      for (const r of rs) {
        expect(r.verdict.outbound.filter((o) => o.decision.matched === false), 'unmatched').to.deep.equal([]);
        if (calls !== undefined) expect(r.outboundCalls, `outbound calls of ${r.sessionId}`).to.equal(calls);
      }
    }

    if (keepAlive) it('S1: each request of a keep-alive connection replays on its own', () => expectPass(['r1-0', 'r1-1', 'r1-2'], 0));
    it('S2: talks on the connection opened at start-up are served to the right session', () => expectPass(['r2-a', 'r2-b', 'r2-c'], 1));
    it('S4: fresh HTTP and Redis connections per request', () => expectPass(['r4-a', 'r4-b', 'r4-c']));
    it('S6: the one-way message gets nothing back, the request its reply', () => expectPass(['r6-a', 'r6-b'], 2));
    it('S7: the UDP datagram is compared, not sent', () => expectPass(['r7-a', 'r7-b'], 1));
    it('S8: three pipelined Redis commands get their three replies', () => expectPass(['r8-a'], 1));
    it('S9: interleaved talks on two connections', () => expectPass(['r9-a'], 2));
    it('S11: a 5 MB downstream response and a 1 MB inbound body', () => expectPass(['r11-down', 'r11-up']));
    it('every recorded session passed', () => {
      expect(results.size).to.equal(recorded.length);
      expect(failures([...results.values()])).to.equal('');
    });
    it('no byte reached a recorded dependency', () => {
      expect(canaries!.hits()).to.deep.equal(Object.fromEntries(Object.keys(canaries!.hits()).map((k) => [k, 0])));
    });
  });
}
