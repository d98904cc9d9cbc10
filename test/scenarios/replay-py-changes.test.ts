/**
 * Changed builds of the Python ThreadingHTTPServer SUT (KOALA_SUT_CHANGE in server.py) replayed
 * against one recording made with the normal build (real Redis and MariaDB behind a PyMySQL pool):
 * the normal build passes; each changed one fails exactly the sessions its change touches, with
 * reasons naming the change (response body, SQL text on the MariaDB destination, the unmatched
 * extra call), and the sessions it does not touch still pass.
 */
import { expect } from 'chai';
import type { Session } from '../../src/index.js';
import type { SessionResult } from '../../src/replay/replay-engine.js';
import { RawHttpConnection, getRequest, statusOf } from '../helpers/raw-http.js';
import { startScenarioEnv } from '../helpers/scenario-env.js';
import { startPySut, type Downstreams } from '../helpers/sut.js';
import { failures, replayAll, startCanaries, startReplayGateway, waitForAgent, type Canaries } from './replay-helpers.js';

const NAME = 'py-changes';
/** Longer than a 16-byte chunk, so a suffixed SQL still shares chunks with the recorded one. */
const TOKENS = {
  hello: ['pyc-hello-token-a', 'pyc-hello-token-b'],
  mysql: ['pyc-mysql-token-a', 'pyc-mysql-token-b'],
  redis: ['pyc-redis-token-a', 'pyc-redis-token-b'],
} as const;
type Endpoint = keyof typeof TOKENS;
type Change = 'response' | 'sql' | 'extra-call';

describe('replay: changed builds of the Python SUT fail, naming the change', function () {
  this.timeout(120_000);
  let recorded: Session[] = [];
  let downstreams: Downstreams = {};
  let canaries: Canaries | undefined;

  before(async function () {
    this.timeout(180_000);
    const env = await startScenarioEnv({ redis: true, mariadb: true });
    try {
      const rec = await startPySut({ name: NAME, agentSocket: env.gateway.agentSocket, downstreams: env.downstreams });
      env.suts.push(rec);
      const conn = await RawHttpConnection.open(rec.port);
      try {
        for (const [endpoint, tokens] of Object.entries(TOKENS)) {
          for (const t of tokens) {
            const res = await conn.request(getRequest(`/${endpoint}?token=${t}`));
            expect(statusOf(res), `${endpoint} ${t}: ${res.toString('latin1', 0, 200)}`).to.equal(200);
          }
        }
      } finally {
        conn.close();
      }
      const n = Object.values(TOKENS).flat().length;
      recorded = await env.gateway.waitForSessions(n, { filter: (s) => s.sut === NAME && (s.inbound?.request.length ?? 0) > 0 });
      expect(recorded).to.have.lengthOf(n);
      downstreams = env.downstreams;
    } finally {
      await env.stop();
    }
    canaries = await startCanaries([downstreams.http!, downstreams.line!, downstreams.redis!, downstreams.mysql!.port], [downstreams.udp!]);
  });

  after(async () => {
    await canaries?.close();
  });

  /** Replays every recorded session against a fresh SUT (`change` unset: the normal build). */
  async function replayWith(change: Change | undefined): Promise<Map<string, SessionResult>> {
    const rg = await startReplayGateway();
    try {
      // The pool connects at start-up: its greetings come from the recorded preludes.
      rg.gateway.preload(recorded);
      const env: Record<string, string> = { KOALA_MODE: 'replay', KOALA_OUTBOUND_ADDR: rg.outboundAddr };
      if (change !== undefined) env.KOALA_SUT_CHANGE = change;
      const sut = await startPySut({ name: NAME, agentSocket: rg.agentSocket, downstreams, env });
      try {
        await waitForAgent(rg.gateway, NAME);
        const results = await replayAll(rg.gateway, recorded, sut.port, 2);
        expect(results).to.have.lengthOf(recorded.length);
        return new Map(results.map((r) => [r.sessionId, r]));
      } finally {
        expect(await sut.stop(), 'SUT exit code').to.equal(0);
      }
    } finally {
      await rg.close();
    }
  }

  /** The result of the session recorded for `token`. */
  function resultOf(results: Map<string, SessionResult>, token: string): SessionResult {
    const s = recorded.filter((x) => x.inbound?.request.includes(`token=${token} `));
    expect(s, `recorded sessions for ${token}`).to.have.lengthOf(1);
    const r = results.get(s[0]!.id);
    expect(r, `replay result for ${token}`).to.not.equal(undefined);
    return r!;
  }

  function expectPass(results: Map<string, SessionResult>, endpoints: Endpoint[]): void {
    const rs = endpoints.flatMap((e) => TOKENS[e].map((t) => resultOf(results, t)));
    expect(failures(rs), `replay report for ${endpoints.join(', ')}`).to.equal('');
  }

  /** Each session of `endpoint` fails with exactly the reasons `expected(token)` gives. */
  function expectFail(results: Map<string, SessionResult>, endpoint: Endpoint, expected: (token: string) => Array<string | RegExp>): void {
    for (const t of TOKENS[endpoint]) {
      const r = resultOf(results, t);
      const text = r.verdict.reasons.join('\n');
      expect(r.verdict.pass, `${t} passed`).to.equal(false);
      const want = expected(t);
      expect(r.verdict.reasons, text).to.have.lengthOf(want.length);
      want.forEach((w, i) => {
        if (typeof w === 'string') expect(r.verdict.reasons[i], text).to.equal(w);
        else expect(r.verdict.reasons[i], text).to.match(w);
      });
    }
  }

  it('the unchanged SUT passes every session, nothing reaches a dependency', async () => {
    const results = await replayWith(undefined);
    expectPass(results, ['hello', 'mysql', 'redis']);
    for (const t of TOKENS.hello) expect(resultOf(results, t).outboundCalls, t).to.equal(0);
    for (const t of [...TOKENS.mysql, ...TOKENS.redis]) expect(resultOf(results, t).outboundCalls, t).to.equal(1);
    expect(canaries!.total(), JSON.stringify(canaries!.hits())).to.equal(0);
  });

  it('a changed response field fails, naming the response body difference', async () => {
    const results = await replayWith('response');
    // "hello T" became "hullo T": the diff points at byte 1 of the body and quotes both sides.
    expectFail(results, 'hello', (t) => [new RegExp(`^response body differs at byte 1: "ello ${t}.*→ "ullo ${t}`)]);
    expectPass(results, ['mysql', 'redis']);
    expect(canaries!.total(), JSON.stringify(canaries!.hits())).to.equal(0);
  });

  it('a changed SQL parameter fails, naming the old and new SQL on the MariaDB destination', async () => {
    const results = await replayWith('sql');
    const db = `127.0.0.1:${downstreams.mysql!.port}`;
    // Matched to the recorded query, whose recorded result keeps the response unchanged.
    expectFail(results, 'mysql', (t) => [`outbound #0 to ${db}: SQL "SELECT '${t}'" → "SELECT '${t}-x'"`]);
    expectPass(results, ['hello', 'redis']);
    expect(canaries!.total(), JSON.stringify(canaries!.hits())).to.equal(0);
  });

  it('an extra downstream call fails as an unmatched call naming its destination and request', async () => {
    const results = await replayWith('extra-call');
    const http = `127.0.0.1:${downstreams.http!}`;
    expectFail(results, 'redis', (t) => [`unmatched outbound call to ${http}: GET /echo?token=${t}`]);
    for (const t of TOKENS.redis) expect(resultOf(results, t).outboundCalls, t).to.equal(2);
    expectPass(results, ['hello', 'mysql']);
    expect(canaries!.total(), JSON.stringify(canaries!.hits())).to.equal(0);
  });
});
