/**
 * One recording of 200 sessions (C SUT, thread per connection: fresh HTTP + Redis connections,
 * the long connection opened at start-up, no downstream), then:
 *   - all 200 replayed at concurrency 32 against the same build: every one passes, which proves
 *     every outbound connection reached its own session (the tokens differ per session);
 *   - builds changed at compile time (-D) fail with a report naming the change.
 */
import { expect } from 'chai';
import PQueue from 'p-queue';
import type { Session } from '../../src/index.js';
import { getRequest, oneShot, statusOf } from '../helpers/raw-http.js';
import { startScenarioEnv } from '../helpers/scenario-env.js';
import { buildCSut, startCSut, type Downstreams } from '../helpers/sut.js';
import {
  buildChangedCSut,
  failures,
  replayAll,
  startCanaries,
  startReplayGateway,
  startReplaySut,
  waitForAgent,
  type Canaries,
} from './replay-helpers.js';

const NAME = 'c-changes';
const KIND = 'thread-per-conn';
const ENDPOINTS = ['/all', '/redis', '/long', '/hello'];

describe('replay: 200 sessions at concurrency 32, and changed builds', function () {
  this.timeout(180_000);
  let recorded: Session[] = [];
  let downstreams: Downstreams = {};
  let canaries: Canaries | undefined;
  let cleanup: Array<() => void> = [];

  before(async function () {
    this.timeout(180_000);
    const built = buildCSut(KIND);
    cleanup.push(built.cleanup);
    const env = await startScenarioEnv({ redis: true });
    try {
      const rec = await startCSut(built.bin, { name: NAME, agentSocket: env.gateway.agentSocket, downstreams: env.downstreams });
      env.suts.push(rec);
      const queue = new PQueue({ concurrency: 8 });
      await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          queue.add(async () => {
            const path = `${ENDPOINTS[i % ENDPOINTS.length]}?token=m${i}`;
            const res = await oneShot(rec.port, getRequest(path, { close: true }));
            expect(statusOf(res), `${path}: ${res.toString('latin1', 0, 200)}`).to.equal(200);
          }),
        ),
      );
      recorded = await env.gateway.waitForSessions(200, { filter: (s) => s.sut === NAME && (s.inbound?.request.length ?? 0) > 0 });
      downstreams = env.downstreams;
    } finally {
      await env.stop();
    }
    canaries = await startCanaries([downstreams.http!, downstreams.line!, downstreams.redis!], [downstreams.udp!]);
  });

  after(async () => {
    await canaries?.close();
    for (const c of cleanup) c();
    cleanup = [];
  });

  /** Replays `sessions` against a fresh SUT built with `defines`; returns the results. */
  async function replayWith(defines: string[], sessions: Session[], concurrency: number) {
    const built = defines.length === 0 ? buildCSut(KIND) : buildChangedCSut(KIND, defines);
    cleanup.push(built.cleanup);
    const rg = await startReplayGateway();
    try {
      rg.gateway.preload(recorded);
      const sut = await startReplaySut({ c: built.bin }, NAME, rg, downstreams);
      try {
        await waitForAgent(rg.gateway, NAME);
        return await replayAll(rg.gateway, sessions, sut.port, concurrency);
      } finally {
        await sut.stop();
      }
    } finally {
      await rg.close();
    }
  }

  const withPath = (path: string, n: number): Session[] =>
    recorded.filter((s) => s.inbound?.request.toString('latin1').startsWith(`GET ${path}?`)).slice(0, n);

  it('replays 200 sessions at concurrency 32: all pass, nothing reaches a dependency', async () => {
    const results = await replayWith([], recorded, 32);
    expect(results).to.have.lengthOf(200);
    expect(failures(results)).to.equal('');
    const calls = results.reduce((n, r) => n + r.outboundCalls, 0);
    // /all makes two calls, /redis and /long one, /hello none.
    expect(calls).to.equal(50 * 2 + 50 + 50);
    expect(canaries!.total(), JSON.stringify(canaries!.hits())).to.equal(0);
  });

  it('a changed response field fails, naming the response change', async () => {
    const results = await replayWith(['KOALA_SUT_CHANGE_RESPONSE'], withPath('/hello', 3), 3);
    expect(results).to.have.lengthOf(3);
    for (const r of results) {
      expect(r.verdict.pass).to.equal(false);
      const text = r.verdict.reasons.join('\n');
      // "hello T" became "hullo T": the diff points at byte 1 of the body and quotes both sides.
      expect(text, text).to.match(/^response body differs at byte 1: "ello .*→ "ullo /m);
    }
  });

  it('a changed downstream request parameter fails, naming the old and new command', async () => {
    const results = await replayWith(['KOALA_SUT_CHANGE_DOWNSTREAM'], withPath('/redis', 3), 3);
    expect(results).to.have.lengthOf(3);
    for (const r of results) {
      expect(r.verdict.pass).to.equal(false);
      const text = r.verdict.reasons.join('\n');
      expect(text, text).to.include(`key:`);
      expect(text, text).to.include(`:${downstreams.redis}`);
    }
    expect(canaries!.total()).to.equal(0);
  });

  it('an extra downstream call fails as an unmatched call to that destination', async () => {
    const results = await replayWith(['KOALA_SUT_EXTRA_CALL'], withPath('/redis', 3), 3);
    expect(results).to.have.lengthOf(3);
    for (const r of results) {
      expect(r.verdict.pass).to.equal(false);
      const text = r.verdict.reasons.join('\n');
      expect(text, text).to.include(`unmatched outbound call to 127.0.0.1:${downstreams.http}: GET /echo?token=`);
    }
    expect(canaries!.total()).to.equal(0);
  });
});
