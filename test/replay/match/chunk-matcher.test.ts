import { expect } from 'chai';
import { chunkMatch, cutToChunks } from '../../../src/replay/match/chunk-matcher.js';

const c = (talkIndex: number, s: string) => ({ talkIndex, request: Buffer.from(s, 'latin1') });

describe('chunkMatch', () => {
  it('cuts 16-byte chunks, and a long request starts at its first readable run', () => {
    expect(cutToChunks(Buffer.from('a'.repeat(40))).map((b) => b.length)).to.deep.equal([16, 16, 8]);
    const long = Buffer.concat([Buffer.from([0, 1, 2, 0xff]), Buffer.from('SELECT * FROM users WHERE id = 1'), Buffer.alloc(300, 0)]);
    const chunks = cutToChunks(long);
    expect(chunks[0]?.toString()).to.equal('SELECT * FROM us');
    expect(chunks[1]?.toString()).to.equal('ers WHERE id = 1');
  });

  it('picks index 0 then index 1 among identical candidates as the connection moves on (reference test)', () => {
    const cands = [c(0, 'GET /same HTTP/1.1'), c(1, 'GET /same HTTP/1.1'), c(2, 'GET /same HTTP/1.1')];
    expect(chunkMatch(Buffer.from('GET /same HTTP/1.1'), cands, -1).chosen?.talkIndex).to.equal(0);
    expect(chunkMatch(Buffer.from('GET /same HTTP/1.1'), cands, 0).chosen?.talkIndex).to.equal(1);
  });

  it('gives the first-chunk bonus m on a fresh connection', () => {
    const req = Buffer.from('GET /users/42?x=1 HTTP/1.1\r\nHost: a\r\n\r\n');
    const r = chunkMatch(req, [c(0, 'POST /other HTTP/1.1\r\nHost: a\r\n\r\n'), c(1, 'GET /users/42?x=2 HTTP/1.1\r\nHost: a\r\n\r\n')], -1);
    expect(r.chosen?.talkIndex).to.equal(1);
    // 3 chunks; the first occurs in candidate 1 (bonus 3), the middle one does not, the last does (+1).
    expect(r.scored[1]?.score).to.be.closeTo(4 / 3, 1e-9);
  });

  it('retries from the start when nothing ahead of the last match reaches 0.85', () => {
    const cands = [c(0, 'GET /a HTTP/1.1'), c(5, 'GET /b HTTP/1.1')];
    const r = chunkMatch(Buffer.from('GET /a HTTP/1.1'), cands, 3);
    expect(r.chosen?.talkIndex).to.equal(0);
    expect(r.note).to.equal('searched all candidates');
  });

  it('rejects when no chunk occurs', () => {
    const r = chunkMatch(Buffer.from('zzzzzzzzzzzzzzzzzzzz'), [c(0, 'GET /a HTTP/1.1')], -1);
    expect(r.chosen).to.equal(undefined);
  });

  it('never pairs a 100-continue request with one without it', () => {
    const r = chunkMatch(Buffer.from('PUT /x HTTP/1.1\r\nExpect: 100-continue\r\n\r\n'), [c(0, 'PUT /x HTTP/1.1\r\n\r\n')], -1);
    expect(r.chosen).to.equal(undefined);
  });
});
