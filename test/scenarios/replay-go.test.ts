/**
 * Replay scenarios against the Go SUT (net/http, built with -tags koala_go,koala_recorder,
 * koala_replayer: one binary records and replays): S1, S2, S3 (MariaDB greeting and auth from the
 * recorded prelude), S5 (/fanout two goroutine levels deep with HTTP, Redis and MySQL; /pool with
 * Delegate), S6 (/oneway) and S8 (/pipeline). Recorded with real dependencies and a record gateway;
 * replayed with the dependencies stopped, canaries on their ports and a fresh SUT process whose
 * agent runs in replay mode. Then builds changed by a build tag (test/fixtures/go-sut/change_*.go)
 * must fail with the change named.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import PQueue from 'p-queue';
import type { Session } from '../../src/index.js';
import type { SessionResult } from '../../src/replay/replay-engine.js';
import { startTestGateway } from '../helpers/gateway.js';
import { RawHttpClient, sessionToken, startGoDeps, startGoSut, waitForGoAgent } from '../helpers/go-sut.js';
import type { Downstreams, Sut } from '../helpers/sut.js';
import { buildGoSutWith, REPLAY_TAGS, startGoReplaySut } from './replay-go-sut.js';
import { failures, replayAll, startCanaries, startReplayGateway, waitForAgent, type Canaries } from './replay-helpers.js';

const NAME = 'go-sut-replay';
/** The same SUT with KOALA_TEST_WARMUP: its MySQL and Redis pools connect at start-up. */
const WARM = 'go-sut-warm';
const WARM_ENV = { KOALA_TEST_WARMUP: '1' };
const run = randomBytes(3).toString('hex');
const tok = (tag: string, n: number | string): string => `${tag}-${run}-${n}`;

/** Sends each path on its own connection with at most `concurrency` at once; expects 200s. */
async function getEach(port: number, paths: string[], concurrency = 1): Promise<void> {
  const queue = new PQueue({ concurrency });
  await Promise.all(
    paths.map((p) =>
      queue.add(async () => {
        const c = await RawHttpClient.connect(port);
        try {
          const r = await c.get(p);
          expect(r.status, `${p}: ${r.body}`).to.equal(200);
        } finally {
          await c.close();
        }
      }),
    ),
  );
}

describe('replay: Go SUT (net/http, koala_recorder + koala_replayer)', function () {
  this.timeout(300_000);
  let built: { bin: string; cleanup(): void } | undefined;
  let recorded: Session[] = [];
  let downstreams: Downstreams = {};
  let canaries: Canaries | undefined;
  const results = new Map<string, SessionResult>();
  const cleanups: Array<() => void> = [];

  const S1 = [0, 1, 2].map((i) => tok('g1', i));
  const S2 = [0, 1, 2].map((i) => tok('g2', i));
  const S3 = [0, 1, 2].map((i) => tok('g3', i));
  const S5F = Array.from({ length: 12 }, (_, i) => tok('g5f', i));
  const S5P = Array.from({ length: 6 }, (_, i) => tok('g5p', i));
  const S6 = [0, 1].map((i) => tok('g6', i));
  const S8 = [0, 1].map((i) => tok('g8', i));
  const ALL = [...S1, ...S2, ...S3, ...S5F, ...S5P, ...S6, ...S8];
  const SW = Array.from({ length: 6 }, (_, i) => tok('g3w', i));
  let warmRecorded: Session[] = [];
  const warmResults = new Map<string, SessionResult>();

  before(async function () {
    this.timeout(900_000);
    const t0 = Date.now();
    const [b, deps] = await Promise.all([buildGoSutWith(REPLAY_TAGS), startGoDeps()]);
    built = b;
    cleanups.push(b.cleanup);
    const gw = await startTestGateway();
    let rec: Sut | undefined;
    let warm: Sut | undefined;
    try {
      rec = await startGoSut(b.bin, { name: NAME, gatewayAddr: gw.gateway.agentGrpcAddr, downstreams: deps.downstreams, env: { KOALA_MODE: 'record' } });
      await waitForGoAgent(gw);
      for (const t of [...S3, ...S5F, ...SW]) await deps.redis.command('SET', `key:${t}`, `val-${t}`);
      // S1: three requests on one keep-alive connection.
      const c = await RawHttpClient.connect(rec.port);
      for (const t of S1) expect((await c.get(`/long?token=${t}`)).status).to.equal(200);
      await c.close();
      await getEach(rec.port, S2.map((t) => `/long?token=${t}`));
      // S3 first, one at a time: the MariaDB and Redis pools open their connections lazily here.
      await getEach(rec.port, S3.map((t) => `/fanout?token=${t}`));
      await getEach(rec.port, [...S5F.map((t) => `/fanout?token=${t}`), ...S5P.map((t) => `/pool?token=${t}`)], 6);
      await getEach(rec.port, [...S6.map((t) => `/oneway?token=${t}`), ...S8.map((t) => `/pipeline?token=${t}`)]);
      recorded = await gw.waitForSessions(ALL.length, { filter: (s) => s.sut === NAME && ALL.includes(sessionToken(s) ?? '') });
      // Start-up pools: the warm-up connections are opened (and pinged) before any session.
      warm = await startGoSut(b.bin, { name: WARM, gatewayAddr: gw.gateway.agentGrpcAddr, downstreams: deps.downstreams, env: { KOALA_MODE: 'record', ...WARM_ENV } });
      await getEach(warm.port, SW.slice(0, 3).map((t) => `/fanout?token=${t}`));
      await getEach(warm.port, SW.slice(3).map((t) => `/fanout?token=${t}`), 3);
      warmRecorded = await gw.waitForSessions(SW.length, { filter: (s) => s.sut === WARM && SW.includes(sessionToken(s) ?? '') });
      downstreams = deps.downstreams;
    } finally {
      await warm?.stop();
      await rec?.stop();
      await gw.close();
      await deps.stop();
    }
    console.log(`      recorded ${recorded.length} sessions in ${Date.now() - t0} ms`);
    canaries = await startCanaries([downstreams.http!, downstreams.line!, downstreams.redis!, downstreams.mysql!.port]);
    const t1 = Date.now();
    const rg = await startReplayGateway();
    let sut: Sut | undefined;
    try {
      // Connections opened at start-up (the two line connections) find their preludes here.
      rg.gateway.preload(recorded);
      sut = await startGoReplaySut(b.bin, NAME, rg, downstreams);
      await waitForAgent(rg.gateway, NAME, 20_000);
      for (const r of await replayAll(rg.gateway, recorded, sut.port, 4)) results.set(r.sessionId, r);
    } finally {
      await sut?.stop();
      await rg.close();
    }
    console.log(`      replayed ${results.size} sessions in ${Date.now() - t1} ms`);
    const rw = await startReplayGateway();
    try {
      // Only this SUT's sessions: the start-up connections take their preludes (warm-up ping included).
      rw.gateway.preload(warmRecorded);
      sut = await startGoSut(b.bin, {
        name: WARM, gatewayAddr: rw.gateway.agentGrpcAddr, downstreams, env: { KOALA_MODE: 'replay', KOALA_OUTBOUND_ADDR: rw.outboundAddr, ...WARM_ENV },
      });
      await waitForAgent(rw.gateway, WARM, 20_000);
      for (const r of await replayAll(rw.gateway, warmRecorded, sut.port, 3)) warmResults.set(r.sessionId, r);
    } finally {
      await sut?.stop();
      await rw.close();
    }
  });

  after(async function () {
    this.timeout(60_000);
    await canaries?.close();
    for (const c of cleanups) c();
  });

  const byToken = (tokens: string[]): SessionResult[] =>
    tokens.map((t) => {
      const s = recorded.find((x) => sessionToken(x) === t);
      expect(s, `recorded session ${t}`).to.not.equal(undefined);
      const r = results.get(s!.id);
      expect(r, `result of ${t}`).to.not.equal(undefined);
      return r!;
    });

  function expectPass(tokens: string[], calls?: number): SessionResult[] {
    const rs = byToken(tokens);
    expect(failures(rs), 'replay report').to.equal('');
    for (const r of rs) {
      expect(r.verdict.outbound.filter((o) => !o.decision.matched), 'unmatched').to.deep.equal([]);
      expect(r.verdict.unusedTalks, 'recorded talks not called').to.deep.equal([]);
      if (calls !== undefined) expect(r.outboundCalls, `outbound calls of ${r.sessionId}`).to.equal(calls);
    }
    return rs;
  }

  it('S1: each request of a keep-alive connection replays on its own', () => expectPass(S1, 1));
  it('S2: the line connection opened at start-up serves each session its own talk', () => {
    for (const r of expectPass(S2, 1)) expect(r.calls[0]!.request.toString('latin1')).to.match(/^long g2-/);
  });
  it('S3: MariaDB queries on a pooled connection; greeting and auth come from the recorded prelude', () => {
    for (const [i, r] of expectPass(S3).entries()) {
      expect(r.verdict.outbound.map((o) => o.request).join('\n')).to.include(`SELECT '${S3[i]}'`);
    }
  });
  it('S5: /fanout two goroutine levels deep (HTTP, Redis, MySQL) at concurrency 4', () => {
    for (const r of expectPass(S5F)) {
      const dsts = new Set(r.verdict.outbound.map((o) => o.destination));
      for (const p of [downstreams.http, downstreams.redis, downstreams.mysql!.port]) expect(dsts, r.sessionId).to.include(`127.0.0.1:${p}`);
    }
  });
  it('S5: /pool workers that Delegate serve the request\'s session', () => expectPass(S5P, 1));
  it('S6: the one-way line gets nothing back, the request its reply', () => {
    for (const r of expectPass(S6, 2)) expect(r.calls.map((c) => c.reaction)).to.deep.equal(['one-way', 'recorded']);
  });
  it('S8: three pipelined Redis commands get their three replies', () => expectPass(S8, 1));
  it('S3/S5 with pools that connect at start-up: greeting, auth and warm-up ping from the recorded prelude', () => {
    expect(warmResults.size).to.equal(SW.length);
    const rs = [...warmResults.values()];
    expect(failures(rs)).to.equal('');
    for (const r of rs) {
      expect(r.verdict.outbound.filter((o) => !o.decision.matched), 'unmatched').to.deep.equal([]);
      expect(r.verdict.outbound.some((o) => o.request.startsWith('SQL "SELECT')), r.sessionId).to.equal(true);
    }
  });
  it('every recorded session passed, nothing unmatched', () => {
    expect(results.size).to.equal(recorded.length);
    expect(failures([...results.values()])).to.equal('');
  });
  it('no byte reached a recorded dependency', () => {
    expect(canaries!.total(), JSON.stringify(canaries!.hits())).to.equal(0);
  });

  describe('changed builds', function () {
    async function replayChanged(tag: string, tokens: string[]): Promise<SessionResult[]> {
      const b = await buildGoSutWith([...REPLAY_TAGS, tag]);
      cleanups.push(b.cleanup);
      const rg = await startReplayGateway();
      let sut: Sut | undefined;
      try {
        rg.gateway.preload(recorded);
        sut = await startGoReplaySut(b.bin, NAME, rg, downstreams);
        await waitForAgent(rg.gateway, NAME, 20_000);
        const sessions = tokens.map((t) => recorded.find((s) => sessionToken(s) === t)!);
        return await replayAll(rg.gateway, sessions, sut.port, 2);
      } finally {
        await sut?.stop();
        await rg.close();
      }
    }

    it('a changed response field fails, naming the field', async () => {
      const rs = await replayChanged('sut_change_response', S3);
      expect(rs).to.have.lengthOf(3);
      for (const r of rs) {
        expect(r.verdict.pass).to.equal(false);
        const text = r.verdict.reasons.join('\n');
        expect(text, text).to.match(/^response body differs at byte \d+: "mysql=.*→ "db=/m);
        expect(r.verdict.outbound.filter((o) => !o.decision.matched), text).to.deep.equal([]);
      }
      expect(canaries!.total()).to.equal(0);
    });

    it('a changed SQL parameter fails, naming the old and new SQL', async () => {
      const rs = await replayChanged('sut_change_sql', S3);
      expect(rs).to.have.lengthOf(3);
      for (const [i, r] of rs.entries()) {
        expect(r.verdict.pass).to.equal(false);
        const text = r.verdict.reasons.join('\n');
        expect(text, text).to.include(`127.0.0.1:${downstreams.mysql!.port}`);
        expect(text, text).to.include(`SELECT '${S3[i]}-v2'`);
      }
      expect(canaries!.total()).to.equal(0);
    });

    it('an extra downstream call fails as an unmatched call to that destination', async () => {
      const rs = await replayChanged('sut_extra_call', S8);
      expect(rs).to.have.lengthOf(2);
      for (const [i, r] of rs.entries()) {
        expect(r.verdict.pass).to.equal(false);
        const text = r.verdict.reasons.join('\n');
        expect(text, text).to.include(`unmatched outbound call to 127.0.0.1:${downstreams.http}: GET /echo?token=extra-${S8[i]}`);
      }
      expect(canaries!.total()).to.equal(0);
    });
  });
});
