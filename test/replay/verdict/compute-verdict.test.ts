import { expect } from 'chai';
import { computeVerdict } from '../../../src/replay/verdict/compute-verdict.js';
import { diffMessages } from '../../../src/replay/verdict/message-diff.js';
import { DEFAULT_NOISE, withNoise } from '../../../src/replay/verdict/noise-rules.js';
import { diffOutboundRequest } from '../../../src/replay/verdict/outbound-diff.js';
import type { OutboundCall } from '../../../src/replay/outbound/outbound-server.js';
import { addr, makeSession, makeTalk } from '../make-session.js';

function http(status: number, headers: Record<string, string>, body: string): Buffer {
  const h = Object.entries({ ...headers, 'Content-Length': String(Buffer.byteLength(body)) }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return Buffer.from(`HTTP/1.1 ${status} X\r\n${h}\r\n${body}`);
}

function query(sql: string): Buffer {
  const payload = Buffer.concat([Buffer.from([3]), Buffer.from(sql)]);
  const h = Buffer.alloc(4);
  h.writeUIntLE(payload.length, 0, 3);
  return Buffer.concat([h, payload]);
}

describe('verdict', () => {
  it('names a JSON body change by path and ignores Date and Content-Length', () => {
    const rec = http(200, { 'Content-Type': 'application/json', Date: 'Mon' }, '{"items":[{"price":1},{"price":2},{"price":10}],"id":"a"}');
    const act = http(200, { 'Content-Type': 'application/json', Date: 'Tue' }, '{"id":"a","items":[{"price":1},{"price":2},{"price":12}]}');
    expect(diffMessages(rec, act, DEFAULT_NOISE)).to.deep.equal(['body $.items[2].price: 10 → 12']);
  });

  it('reports status and header changes, and honours configured noise', () => {
    const rec = http(200, { 'X-Version': '1', 'X-Ts': '100' }, 'ok');
    const act = http(500, { 'X-Version': '2', 'X-Ts': '200' }, 'ok');
    expect(diffMessages(rec, act, withNoise({ ignoreHeaders: ['x-ts'] }))).to.deep.equal(['status: 200 → 500', 'header X-Version: 1 → 2']);
  });

  it('ignores JSON paths with wildcards and applies regex replacements', () => {
    const rec = http(200, { 'Content-Type': 'application/json' }, '{"items":[{"id":1,"at":"2020-01-01"}]}');
    const act = http(200, { 'Content-Type': 'application/json' }, '{"items":[{"id":2,"at":"2024-05-05"}]}');
    const noise = withNoise({ ignoreJsonPaths: ['$.items[*].id'], replacements: [{ pattern: '\\d{4}-\\d{2}-\\d{2}', replacement: 'DATE' }] });
    expect(diffMessages(rec, act, noise)).to.deep.equal([]);
    expect(diffMessages(rec, act, DEFAULT_NOISE)).to.have.length(2);
  });

  it('shows the SQL text and Redis command differences of outbound requests', () => {
    expect(diffOutboundRequest(query('SELECT 1'), query('SELECT 2'), DEFAULT_NOISE)).to.deep.equal(['SQL "SELECT 1" → "SELECT 2"']);
    expect(diffOutboundRequest(Buffer.from('*2\r\n$3\r\nGET\r\n$3\r\nk:x\r\n'), Buffer.from('*2\r\n$3\r\nGET\r\n$3\r\nk:y\r\n'), DEFAULT_NOISE))
      .to.deep.equal(['command GET k:x → GET k:y']);
    expect(diffOutboundRequest(Buffer.from('abcdef'), Buffer.from('abcXef'), DEFAULT_NOISE)[0]).to.match(/differs at byte 3/);
  });

  it('fails a session with reasons naming every change, unmatched call and unused talk', () => {
    const session = makeSession('s1', { request: 'GET / HTTP/1.1\r\n\r\n', response: http(200, {}, 'ok') }, [
      { dst: '127.0.0.1:3306', request: query('SELECT 1'), response: 'r' },
      { dst: '127.0.0.1:6379', request: '*2\r\n$3\r\nGET\r\n$3\r\nk:y\r\n', response: '$-1\r\n' },
    ]);
    const talk0 = session.talks[0];
    const calls: OutboundCall[] = [
      {
        remotePort: 1, originalDst: addr('127.0.0.1:3306'), sessionId: 's1', protocol: 'mysql', request: query('SELECT 2'), talk: talk0, reaction: 'recorded', atMs: 0,
        decision: { matched: true, sessionId: 's1', talkIndex: 0, source: 'talk', strategy: 'chunk', score: 0.9, threshold: 0.1, top: [], explanation: '' },
      },
      {
        remotePort: 2, originalDst: addr('127.0.0.1:6379'), sessionId: 's1', protocol: 'resp', request: Buffer.from('*2\r\n$3\r\nGET\r\n$3\r\nk:x\r\n'), talk: undefined, reaction: 'closed', atMs: 0,
        decision: { matched: false, sessionId: undefined, talkIndex: undefined, source: undefined, strategy: 'none', score: 0, threshold: 0.1, top: [], explanation: 'no match' },
      },
    ];
    const v = computeVerdict({ session, actualResponse: http(200, {}, 'ok'), calls, unusedTalks: [makeTalk({ dst: '127.0.0.1:6379', request: '*2\r\n$3\r\nGET\r\n$3\r\nk:y\r\n' }, 1)] });
    expect(v.pass).to.equal(false);
    expect(v.reasons).to.deep.equal([
      'outbound #0 to 127.0.0.1:3306: SQL "SELECT 1" → "SELECT 2"',
      'unmatched outbound call to 127.0.0.1:6379: GET k:x',
      'recorded talk #1 to 127.0.0.1:6379 not called: GET k:y',
    ]);
    const ok = computeVerdict({ session, actualResponse: http(200, { Date: 'x' }, 'ok'), calls: [], unusedTalks: [] });
    expect(ok).to.include({ pass: true });
  });
});
