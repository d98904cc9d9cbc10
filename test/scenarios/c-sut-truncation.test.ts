/**
 * S11 with a cap: when the gateway keeps at most KOALA_MAX_PAYLOAD bytes per direction, a 5 MB
 * downstream response and a 1 MB inbound body are cut explicitly, never silently.
 */
import { expect } from 'chai';
import { bodyOf, getRequest, oneShot } from '../helpers/raw-http.js';
import { startScenarioEnv, type ScenarioEnv } from '../helpers/scenario-env.js';
import { expectBytes } from '../helpers/session-assert.js';
import { buildCSut, startCSut, type Sut } from '../helpers/sut.js';

const CAP = 256 * 1024;
const NAME = 'c-capped';

describe('record: S11 with a payload cap (C SUT)', function () {
  this.timeout(90_000);
  let env: ScenarioEnv;
  let sut: Sut;
  let cleanupBin: (() => void) | undefined;

  before(async function () {
    this.timeout(120_000);
    const built = buildCSut('thread-per-conn');
    cleanupBin = built.cleanup;
    env = await startScenarioEnv({ gateway: { maxPayloadBytes: CAP } });
    sut = await startCSut(built.bin, { name: NAME, agentSocket: env.gateway.agentSocket, downstreams: env.downstreams });
    env.suts.push(sut);
  });

  after(async function () {
    this.timeout(60_000);
    await env?.stop();
    cleanupBin?.();
  });

  it('keeps the first bytes up to the cap, the true lengths, and counts what was cut', async () => {
    const received = await oneShot(sut.port, getRequest('/big?token=cap-down', { close: true }));
    expect(bodyOf(received).toString()).to.match(/^big \d+\n$/);
    const body = Buffer.alloc(1024 * 1024, 0x62);
    const sentUp = Buffer.concat([Buffer.from(`POST /upload?token=cap-up HTTP/1.1\r\nHost: sut\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body]);
    const receivedUp = await oneShot(sut.port, sentUp);
    expect(bodyOf(receivedUp).toString()).to.equal(`upload ${body.length}\n`);

    const request = 'GET /big HTTP/1.1\r\nHost: downstream\r\nConnection: close\r\n\r\n';
    const full = await env.httpDirect(request);
    const [down] = await env.gateway.waitForSessions(1, { filter: (s) => s.sut === NAME && !!s.inbound?.request.includes('token=cap-down') });
    const talk = down!.talks[0]!;
    expect(down!.talks).to.have.lengthOf(1);
    expectBytes(talk.request, request, 'talk request');
    expectBytes(talk.response, full.subarray(0, CAP), 'talk response: the first CAP bytes');
    expect(Number(talk.responseLen), 'untruncated response length').to.equal(full.length);
    expect(Number(down!.completeness?.truncatedBytes), 'truncated bytes counted').to.equal(full.length - CAP);

    const [up] = await env.gateway.waitForSessions(1, { filter: (s) => s.sut === NAME && !!s.inbound?.request.includes('token=cap-up') });
    expectBytes(up!.inbound?.request, sentUp.subarray(0, CAP), 'inbound request: the first CAP bytes');
    expect(Number(up!.inbound?.requestLen), 'untruncated request length').to.equal(sentUp.length);
    expectBytes(up!.inbound?.response, receivedUp, 'inbound response');
    expect(Number(up!.completeness?.truncatedBytes), 'truncated bytes counted').to.equal(sentUp.length - CAP);
  });
});
