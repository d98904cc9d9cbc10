import { expect } from 'chai';
import type { SessionResult } from '../../../src/replay/replay-engine.js';
import { toJunitReport } from '../../../src/replay/report/junit-report.js';
import { buildRunReport, toJsonReport } from '../../../src/replay/report/run-report.js';
import { toTextReport } from '../../../src/replay/report/text-report.js';
import { computeVerdict } from '../../../src/replay/verdict/compute-verdict.js';
import { makeSession, makeTalk } from '../make-session.js';

function result(id: string, actual: string): SessionResult {
  const session = makeSession(id, { request: 'GET / HTTP/1.1\r\n\r\n', response: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' }, [
    { dst: '127.0.0.1:6379', request: '*1\r\n$4\r\nPING\r\n', response: '+PONG\r\n' },
  ]);
  const unused = actual.includes('200') ? [] : [makeTalk({ dst: '127.0.0.1:6379', request: '*1\r\n$4\r\nPING\r\n' }, 0)];
  const verdict = computeVerdict({ session, actualResponse: Buffer.from(actual), calls: [], unusedTalks: unused });
  return {
    sessionId: id, sut: 'svc', durationMs: 12, outboundCalls: 0, calls: [], verdict,
    inbound: {
      request: session.inbound?.request ?? Buffer.alloc(0), expected: session.inbound?.response ?? Buffer.alloc(0), actual: Buffer.from(actual),
      protocol: 'http1', end: 'framed', error: undefined, localPort: 1, connectMs: 1, firstByteMs: 2, totalMs: 3,
    },
  };
}

describe('run reports', () => {
  const report = buildRunReport([
    result('good', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
    result('bad<1>', 'HTTP/1.1 500 Oops\r\nContent-Length: 2\r\n\r\nok'),
  ], 1_700_000_000_000, 1_700_000_000_250);

  it('counts passes and failures', () => {
    expect(report).to.include({ total: 2, passed: 1, failed: 1, durationMs: 250 });
  });

  it('writes JSON with bytes as base64 plus text', () => {
    const parsed = JSON.parse(toJsonReport(report)) as { sessions: Array<{ inbound: { actual: { base64: string; text: string } } }> };
    const actual = parsed.sessions[1]?.inbound.actual;
    expect(Buffer.from(actual?.base64 ?? '', 'base64').toString()).to.equal('HTTP/1.1 500 Oops\r\nContent-Length: 2\r\n\r\nok');
    expect(actual?.text).to.contain('500 Oops');
  });

  it('writes JUnit XML with one testcase per session and the reasons as the failure message', () => {
    const xml = toJunitReport(report);
    expect(xml.match(/<testcase /g)).to.have.length(2);
    expect(xml).to.contain('<testcase classname="svc" name="good" time="0.012"/>');
    expect(xml).to.contain('name="bad&lt;1&gt;"');
    expect(xml).to.contain('<failure message="response status: 200 → 500; recorded talk #0 to 127.0.0.1:6379 not called: PING"');
  });

  it('writes a readable summary', () => {
    const text = toTextReport(report);
    expect(text.split('\n')[0]).to.equal('koala replay: 1/2 sessions passed, 1 failed (250 ms)');
    expect(text).to.contain('PASS good');
    expect(text).to.contain('FAIL bad<1>');
    expect(text).to.contain('  - response status: 200 → 500');
  });
});
