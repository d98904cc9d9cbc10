/**
 * Record now, assemble later, with real parts: the Go SUT (koala_recorder + koala_replayer) under
 * concurrent load records into a gateway with --assembler spool, its real HTTP, Redis and MariaDB
 * dependencies answering; the spool is assembled afterwards; the sessions must hold exactly each
 * request's own talks, and they must replay and pass with the dependencies stopped.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import PQueue from 'p-queue';
import { Logger, readSessions, type Session } from '../../src/index.js';
import type { SessionResult } from '../../src/replay/replay-engine.js';
import { assembleSpools, type SpoolOutcome } from '../../src/spool/assemble-spool.js';
import { startTestGateway } from '../helpers/gateway.js';
import { foreignTokens, RawHttpClient, sessionToken, startGoDeps, startGoSut, waitForGoAgent } from '../helpers/go-sut.js';
import type { Downstreams, Sut } from '../helpers/sut.js';
import { sleep } from '../helpers/wait.js';
import { buildGoSutWith, REPLAY_TAGS, startGoReplaySut } from './replay-go-sut.js';
import { failures, replayAll, startCanaries, startReplayGateway, waitForAgent, type Canaries } from './replay-helpers.js';

const NAME = 'go-sut-spool';
const REQUESTS = 300;
const CONCURRENCY = 12;

describe('Go SUT recorded into a spool, assembled afterwards, then replayed', function () {
  this.timeout(900_000);
  const run = randomBytes(3).toString('hex');
  const sent: { token: string; path: 'fanout' | 'pool' }[] = [];
  let outcome: SpoolOutcome | undefined;
  let spooledWhileRecording = { sessions: -1, batches: 0 };
  let sessions: Session[] = [];
  let ports = { http: 0, redis: 0, mysql: 0 };
  let downstreams: Downstreams = {};
  let results: SessionResult[] = [];
  let canaries: Canaries | undefined;
  let cleanup = (): void => undefined;

  before(async function () {
    const [built, deps] = await Promise.all([buildGoSutWith(REPLAY_TAGS), startGoDeps()]);
    cleanup = built.cleanup;
    ports = { http: deps.http.port, redis: deps.redis.port, mysql: deps.mysql.port };
    downstreams = deps.downstreams;
    const gw = await startTestGateway({ assembler: 'spool' });
    let sut: Sut | undefined;
    try {
      sut = await startGoSut(built.bin, { name: NAME, gatewayAddr: gw.gateway.agentGrpcAddr, downstreams, env: { KOALA_MODE: 'record' } });
      await waitForGoAgent(gw);
      for (let n = 0; n < REQUESTS; n++) sent.push({ token: `sp-${run}-${n}`, path: n % 3 === 2 ? 'pool' : 'fanout' });
      for (const { token } of sent) await deps.redis.command('SET', `key:${token}`, `val-${token}`);
      const queue = new PQueue({ concurrency: CONCURRENCY });
      const port = sut.port;
      await Promise.all(
        sent.map(({ token, path }) =>
          queue.add(async () => {
            const c = await RawHttpClient.connect(port);
            try {
              const r = await c.get(`/${path}?token=${token}`);
              const want = path === 'fanout' ? `http=echo:${token} redis=val-${token} mysql=${token}\n` : `pool=echo:${token}\n`;
              expect(`${r.status} ${r.body}`).to.equal(`200 ${want}`);
            } finally {
              await c.close();
            }
          }),
        ),
      );
      // No session shows while spooling: wait until the agent's last batches (sent every 100 ms) are in.
      for (let last = -1, stable = 0; stable < 5; await sleep(200)) {
        // Batches, not bytes: the gateway's own ticks go on being spooled.
        const batches = gw.stats().spool?.batches ?? 0;
        stable = batches === last ? stable + 1 : 0;
        last = batches;
      }
    } finally {
      await sut?.stop();
      spooledWhileRecording = { sessions: gw.stats().sessions, batches: gw.stats().spool?.batches ?? 0 };
      await gw.close({ keep: true });
      await deps.stop();
    }
    [outcome] = await assembleSpools([gw.storeDir], {
      assembler: { idleAfterResponseMs: 2000, bypassAddrs: [], maxPayloadBytes: 1 << 20 },
      storeDir: gw.storeDir,
      logger: Logger.silent(),
    });
    for await (const r of readSessions([gw.storeDir])) {
      if ('error' in r) throw r.error;
      sessions.push(r.session);
    }
    await gw.close();

    canaries = await startCanaries([downstreams.http!, downstreams.line!, downstreams.redis!, downstreams.mysql!.port]);
    const rg = await startReplayGateway();
    let replaySut: Sut | undefined;
    try {
      rg.gateway.preload(sessions);
      replaySut = await startGoReplaySut(built.bin, NAME, rg, downstreams);
      await waitForAgent(rg.gateway, NAME, 20_000);
      const mine = sessions.filter((s) => sessionToken(s)?.includes(`-${run}-`));
      results = await replayAll(rg.gateway, mine.filter((_, i) => i % 5 === 0), replaySut.port, 4);
    } finally {
      await replaySut?.stop();
      await rg.close();
    }
  });

  after(async function () {
    await canaries?.close();
    cleanup();
  });

  it('assembled nothing while recording, and every batch spooled is assembled with nothing lost', () => {
    expect(spooledWhileRecording.sessions).to.equal(0);
    expect(spooledWhileRecording.batches).to.be.greaterThan(0);
    expect(outcome).to.include({ batches: spooledWhileRecording.batches, ended: true, droppedEvents: 0, malformedBatches: 0, tornBytes: 0, corrupt: undefined, storeErrors: 0 });
  });

  it('one session per request, holding exactly that request\'s bytes and its own talks', () => {
    const byToken = new Map<string, Session[]>();
    for (const s of sessions) {
      const t = sessionToken(s);
      if (t !== undefined) byToken.set(t, [...(byToken.get(t) ?? []), s]);
    }
    const wrong: string[] = [];
    for (const { token, path } of sent) {
      const ss = byToken.get(token) ?? [];
      if (ss.length !== 1) {
        wrong.push(`${token}: ${ss.length} sessions`);
        continue;
      }
      const s = ss[0]!;
      if (!s.inbound!.request.toString('latin1').startsWith(`GET /${path}?token=${token} HTTP/1.1\r\n`)) wrong.push(`${token}: request ${s.inbound!.request}`);
      const body = path === 'fanout' ? `http=echo:${token} redis=val-${token} mysql=${token}\n` : `pool=echo:${token}\n`;
      const resp = s.inbound!.response.toString('latin1');
      if (!resp.startsWith('HTTP/1.1 200 OK\r\n') || !resp.endsWith(`\r\n\r\n${body}`)) wrong.push(`${token}: response ${JSON.stringify(resp)}`);
      const foreign = foreignTokens(s, token);
      if (foreign.length > 0) wrong.push(`${token}: holds ${foreign.join(',')}`);
      const own = s.talks.filter((t) => t.request.toString('latin1').includes(token)).map((t) => t.peer?.port).sort();
      const want = path === 'fanout' ? [ports.http, ports.mysql, ports.redis].sort() : [ports.http];
      if (JSON.stringify(own) !== JSON.stringify(want)) wrong.push(`${token} (${path}): talks to ${own.join(',')}`);
      if ((s.completeness?.droppedEvents ?? 0n) > 0n) wrong.push(`${token}: incomplete`);
    }
    expect(wrong.slice(0, 20), `${wrong.length} requests recorded wrongly`).to.deep.equal([]);
  });

  it('the assembled sessions replay and pass with the dependencies stopped, nothing reaching them', () => {
    expect(results.length).to.equal(REQUESTS / 5);
    expect(failures(results), 'replay report').to.equal('');
    for (const r of results) expect(r.verdict.unusedTalks, 'recorded talks not called').to.deep.equal([]);
    expect(Object.values(canaries!.hits()).reduce((a, b) => a + b, 0)).to.equal(0);
  });
});
