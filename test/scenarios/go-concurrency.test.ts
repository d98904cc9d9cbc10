/**
 * S5 under load: 50 concurrent clients for 10 s against /fanout (goroutine inheritance) and /pool
 * (delegation), every request with its own token. Zero cross-attribution, and every request is
 * either a recorded session or accounted for by drops the agent reported.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type { Session } from '../../src/generated/koala/v1/session.pb.js';
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
} from '../helpers/go-sut.js';
import type { Sut } from '../helpers/sut.js';
import { sleep } from '../helpers/wait.js';

const CLIENTS = 50;
const DURATION_MS = 10_000;

interface Sent {
  token: string;
  path: 'fanout' | 'pool';
}

describe('Go SUT under 50 concurrent clients', function () {
  this.timeout(900_000);
  let deps: GoDeps;
  let gw: TestGateway;
  let sut: Sut;

  before(async function () {
    const [bin, d] = await Promise.all([buildGoSut('hooked'), startGoDeps()]);
    deps = d;
    gw = await startTestGateway();
    sut = await startGoSut(bin, { gatewayAddr: gw.gateway.agentGrpcAddr, downstreams: deps.downstreams });
    await waitForGoAgent(gw);
  });

  after(async function () {
    await sut?.stop();
    await gw?.close();
    await deps?.stop();
  });

  it('attributes every talk to its own request and reconciles requests with sessions and drops', async function () {
    const run = randomBytes(3).toString('hex');
    const sent: Sent[] = [];
    const failures: string[] = [];
    const end = Date.now() + DURATION_MS;

    // Even clients keep one connection (one serving goroutine, sessions cut per request); odd
    // clients open a connection per request (a new owner each time, many alive at once).
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        let c: RawHttpClient | undefined;
        for (let n = 0; Date.now() < end; n++) {
          const path = (i + n) % 2 === 0 ? 'fanout' : 'pool';
          const token = `c${i}-${run}-${n}`;
          c ??= await RawHttpClient.connect(sut.port);
          const r = await c.get(`/${path}?token=${token}`);
          const want = path === 'fanout' ? `http=echo:${token} redis=(nil) mysql=${token}\n` : `pool=echo:${token}\n`;
          if (r.status !== 200 || r.body !== want) failures.push(`${token}: ${r.status} ${r.body}`);
          sent.push({ token, path });
          if (i % 2 === 1) {
            await c.close();
            c = undefined;
          }
        }
        await c?.close();
      }),
    );
    expect(failures, 'SUT answers under recording').to.deep.equal([]);

    const mine = (s: Session): boolean => sessionToken(s)?.includes(`-${run}-`) ?? false;
    // Sessions still open end on their connection's close or on idle; wait until the count is
    // stable (and complete, when nothing was dropped).
    let last = -1;
    for (let stable = 0; stable < 3; ) {
      await sleep(1_000);
      const n = gw.sessions.filter(mine).length;
      stable = n === last ? stable + 1 : 0;
      last = n;
      if (n === sent.length) break;
    }
    const sessions = gw.sessions.filter(mine);
    const stats = gw.stats();
    console.log(
      `      ${sent.length} requests in ${DURATION_MS / 1000} s, ${sessions.length} sessions, ` +
        `${stats.droppedEvents} events reported dropped, ${stats.events} events`,
    );

    // Zero cross-attribution: no session holds another request's token, and each has exactly
    // the talks its handler made.
    const byToken = new Map<string, Session[]>();
    const crossed: string[] = [];
    for (const s of sessions) {
      const tok = sessionToken(s)!;
      byToken.set(tok, [...(byToken.get(tok) ?? []), s]);
      const foreign = foreignTokens(s, tok);
      if (foreign.length > 0) crossed.push(`${tok} holds ${foreign.join(',')}: ${describeTalks(s, foreign)}`);
    }
    expect(crossed.slice(0, 10), `${crossed.length} sessions with another request's talks`).to.deep.equal([]);
    const wrong: string[] = [];
    for (const { token, path } of sent) {
      const ss = byToken.get(token) ?? [];
      if (ss.length > 1) wrong.push(`${token}: ${ss.length} sessions`);
      const s = ss[0];
      if (!s || (s.completeness?.droppedEvents ?? 0n) > 0n) continue; // lost: reconciled below
      const own = s.talks.filter((t) => t.request.toString('latin1').includes(token));
      const ports = own.map((t) => t.peer?.port).sort();
      const want = path === 'fanout' ? [deps.http.port, deps.mysql.port, deps.redis.port].sort() : [deps.http.port];
      if (JSON.stringify(ports) !== JSON.stringify(want)) wrong.push(`${token} (${path}): talks to ${ports.join(',')}`);
    }
    expect(wrong.slice(0, 20), `${wrong.length} sessions with the wrong talks`).to.deep.equal([]);

    // Reconcile: requests = sessions recorded + requests whose events were dropped (counted).
    const missing = sent.filter((x) => !byToken.has(x.token)).length;
    expect(sessions.length + missing).to.equal(sent.length);
    if (stats.droppedEvents === 0) {
      expect(missing, 'sessions missing though nothing was dropped').to.equal(0);
    } else {
      expect(missing, 'missing sessions are bounded by the dropped events').to.be.at.most(stats.droppedEvents);
    }
  });
});

/** Where the foreign tokens sit (for the failure message). */
function describeTalks(s: Session, foreign: string[]): string {
  return s.talks
    .filter((t) => foreign.some((f) => (t.request.toString('latin1') + t.response.toString('latin1')).includes(f)))
    .map((t) => `talk ${t.index} to :${t.peer?.port} conn ${t.connId} tid ${t.tid} (vtid ${s.vtid}) req ${JSON.stringify(t.request.toString('latin1'))} resp ${JSON.stringify(t.response.toString('latin1'))}`)
    .join('; ');
}
