/**
 * Record + replay: the replay gateway also records what the replayed SUT does. Each re-recorded
 * session names the session it replays (replay_of) and has the original's talk structure.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { readSessions, type Session } from '../../src/index.js';
import { getRequest, oneShot, statusOf } from '../helpers/raw-http.js';
import { startScenarioEnv } from '../helpers/scenario-env.js';
import { buildCSut, startCSut, type Downstreams } from '../helpers/sut.js';
import { waitFor } from '../helpers/wait.js';
import { failures, replayAll, startCanaries, startReplayGateway, startReplaySut, waitForAgent } from './replay-helpers.js';

const NAME = 'c-record-replay';
const PATHS = ['/hello?token=rr-0', '/long?token=rr-1', '/all?token=rr-2', '/pipeline?token=rr-3', '/oneway?token=rr-4', '/interleave?token=rr-5'];

const shape = (s: Session) => ({
  request: s.inbound?.request.toString('latin1'),
  response: s.inbound?.response.toString('latin1'),
  talks: s.talks.map((t) => ({ peer: t.peer?.port, request: t.request.toString('latin1'), response: t.response.toString('latin1'), oneWay: t.oneWay })),
});

describe('replay: record+replay re-records the replayed sessions', function () {
  this.timeout(120_000);

  it('re-recorded sessions carry replay_of and equal the originals talk for talk', async function () {
    const built = buildCSut('thread-per-conn');
    let recorded: Session[] = [];
    let downstreams: Downstreams = {};
    const env = await startScenarioEnv({ redis: true });
    try {
      const rec = await startCSut(built.bin, { name: NAME, agentSocket: env.gateway.agentSocket, downstreams: env.downstreams });
      env.suts.push(rec);
      for (const p of PATHS) expect(statusOf(await oneShot(rec.port, getRequest(p, { close: true })))).to.equal(200);
      recorded = await env.gateway.waitForSessions(PATHS.length, { filter: (s) => s.sut === NAME && (s.inbound?.request.length ?? 0) > 0 });
      downstreams = env.downstreams;
    } finally {
      await env.stop();
    }
    const canaries = await startCanaries([downstreams.http!, downstreams.line!, downstreams.redis!]);
    const rg = await startReplayGateway({ mode: 'record+replay', storeDir: join(built.bin, '..', 'store') });
    try {
      const again: Session[] = [];
      rg.gateway.on('session', (s) => void again.push(s));
      rg.gateway.preload(recorded);
      const sut = await startReplaySut({ c: built.bin }, NAME, rg, downstreams, 'record+replay');
      try {
        await waitForAgent(rg.gateway, NAME);
        const results = await replayAll(rg.gateway, recorded, sut.port, 3);
        expect(failures(results)).to.equal('');
        const linked = await waitFor('the re-recorded sessions', () => {
          const l = again.filter((s) => s.replayOf !== '');
          return l.length >= recorded.length ? l : undefined;
        });
        expect(linked.map((s) => s.replayOf).sort()).to.deep.equal(recorded.map((s) => s.id).sort());
        for (const s of linked) {
          const original = recorded.find((o) => o.id === s.replayOf)!;
          expect(shape(s), `re-recording of ${original.inbound?.request.toString('latin1', 0, 40)}`).to.deep.equal(shape(original));
        }
        await rg.gateway.flush();
        const stored: Session[] = [];
        for await (const r of readSessions([rg.gateway.storePath!])) if ('session' in r) stored.push(r.session);
        expect(stored.filter((s) => s.replayOf !== '').map((s) => s.replayOf).sort(), 'replay_of is stored').to.deep.equal(recorded.map((s) => s.id).sort());
      } finally {
        await sut.stop();
      }
    } finally {
      await rg.close();
      await canaries.close();
      built.cleanup();
    }
    expect(canaries.total(), JSON.stringify(canaries.hits())).to.equal(0);
  });
});
