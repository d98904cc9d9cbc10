/**
 * Replay scenarios S1, S3 (real MariaDB behind a PyMySQL pool opened at start-up), S6, S7 and S11
 * (inbound body) against the Python ThreadingHTTPServer SUT: recorded with real dependencies,
 * replayed with the dependencies stopped and canaries on their ports.
 */
import { expect } from 'chai';
import type { Session } from '../../src/index.js';
import type { SessionResult } from '../../src/replay/replay-engine.js';
import { RawHttpConnection, getRequest, statusOf } from '../helpers/raw-http.js';
import { startScenarioEnv } from '../helpers/scenario-env.js';
import { startPySut, type Downstreams, type Sut } from '../helpers/sut.js';
import { failures, replayAll, startCanaries, startReplayGateway, startReplaySut, waitForAgent, type Canaries, type ReplayGateway } from './replay-helpers.js';

const NAME = 'py-sut-replay';

describe('replay: Python SUT (ThreadingHTTPServer)', function () {
  this.timeout(120_000);
  let recorded: Session[] = [];
  let downstreams: Downstreams = {};
  let canaries: Canaries | undefined;
  let rg: ReplayGateway | undefined;
  let sut: Sut | undefined;
  const results = new Map<string, SessionResult>();

  before(async function () {
    this.timeout(240_000);
    const env = await startScenarioEnv({ redis: true, mariadb: true });
    try {
      const rec = await startPySut({ name: NAME, agentSocket: env.gateway.agentSocket, downstreams: env.downstreams });
      env.suts.push(rec);
      const conn = await RawHttpConnection.open(rec.port);
      const paths = [
        ...[0, 1, 2].map((i) => `/hello?token=p1-${i}`),
        ...['a', 'b', 'c', 'd'].map((x) => `/mysql?token=p3-${x}`),
        '/redis?token=p4-a',
        '/oneway?token=p6-a',
        '/oneway?token=p6-b',
        '/udp?token=p7-a',
      ];
      for (const p of paths) {
        const res = await conn.request(getRequest(p));
        expect(statusOf(res), `${p}: ${res.toString('latin1', 0, 200)}`).to.equal(200);
      }
      const body = Buffer.alloc(1024 * 1024, 0x62);
      const up = Buffer.concat([Buffer.from(`POST /upload?token=p11 HTTP/1.1\r\nHost: sut\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
      expect(statusOf(await conn.request(up))).to.equal(200);
      conn.close();
      recorded = await env.gateway.waitForSessions(paths.length + 1, { filter: (s) => s.sut === NAME && (s.inbound?.request.length ?? 0) > 0 });
      downstreams = env.downstreams;
    } finally {
      await env.stop();
    }
    canaries = await startCanaries([downstreams.http!, downstreams.line!, downstreams.redis!, downstreams.mysql!.port], [downstreams.udp!]);
    rg = await startReplayGateway();
    // The pool connects at start-up, before any session: its greeting comes from these preludes.
    rg.gateway.preload(recorded);
    sut = await startReplaySut('py', NAME, rg, downstreams);
    await waitForAgent(rg.gateway, NAME);
    for (const r of await replayAll(rg.gateway, recorded, sut.port, 4)) results.set(r.sessionId, r);
  });

  after(async function () {
    this.timeout(60_000);
    await sut?.stop();
    await rg?.close();
    await canaries?.close();
  });

  const byToken = (token: string): SessionResult[] =>
    recorded.filter((s) => s.inbound?.request.includes(`token=${token} `)).map((s) => results.get(s.id)!);

  function expectPass(tokens: string[], calls?: number): void {
    const rs = tokens.flatMap(byToken);
    expect(rs, `sessions for ${tokens.join(',')}`).to.have.lengthOf(tokens.length);
    expect(failures(rs), 'replay report').to.equal('');
    for (const r of rs) if (calls !== undefined) expect(r.outboundCalls, `outbound calls of ${r.sessionId}`).to.equal(calls);
  }

  it('S1: each request of a keep-alive connection replays on its own', () => expectPass(['p1-0', 'p1-1', 'p1-2'], 0));
  it('S3: MariaDB queries on pooled connections, greeting and auth served from the recorded prelude', () => {
    expectPass(['p3-a', 'p3-b', 'p3-c', 'p3-d'], 1);
    for (const r of byToken('p3-a')) expect(r.verdict.outbound[0]?.request).to.include("SELECT 'p3-a'");
  });
  it('S4: a fresh Redis connection per request', () => expectPass(['p4-a'], 1));
  it('S6: one-way then request on the shared line connection', () => expectPass(['p6-a', 'p6-b'], 2));
  it('S7: the UDP datagram is compared, not sent', () => expectPass(['p7-a'], 1));
  it('S11: a 1 MB inbound body', () => expectPass(['p11']));
  it('no byte reached a recorded dependency', () => {
    expect(canaries!.total(), JSON.stringify(canaries!.hits())).to.equal(0);
  });
});
