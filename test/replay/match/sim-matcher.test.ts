import { expect } from 'chai';
import { cosine, lexTokens, simMatch } from '../../../src/replay/match/sim-matcher.js';

const c = (talkIndex: number, s: string) => ({ talkIndex, request: Buffer.from(s) });

describe('simMatch', () => {
  it('lexes like the reference', () => {
    expect(lexTokens(Buffer.from('GET /api/v1?id=5 HTTP/1.1\r\n'))).to.deep.equal(
      ['GET', ' ', '/', 'api', '/', 'v1', '?', 'id', '=', '5', ' ', 'HTTP', '/', '1.1', '\r', '\n'],
    );
    expect(lexTokens(Buffer.from('名字=x'))).to.deep.equal([Buffer.from('名字').toString('latin1'), '=', 'x']);
  });

  it('computes cosine over sets', () => {
    expect(cosine(new Set(['a', 'b']), new Set(['b', 'c']))).to.be.closeTo(0.5, 1e-9);
    expect(cosine(new Set(), new Set(['a']))).to.equal(0);
  });

  it('picks the most similar candidate above the threshold and explains the rest', () => {
    const r = simMatch(Buffer.from('GET /users/7 HTTP/1.1'), [c(0, 'SET k v'), c(1, 'GET /users/8 HTTP/1.1')], -1, 0.7);
    expect(r.chosen?.talkIndex).to.equal(1);
    expect(r.scored[0]?.score).to.be.lessThan(0.7);
  });

  it('breaks ties toward the first candidate after the last match', () => {
    const cands = [c(0, 'PING'), c(1, 'PING'), c(2, 'PING')];
    expect(simMatch(Buffer.from('PING x'), cands, 1, 0.5).chosen?.talkIndex).to.equal(2);
  });

  it('rejects below the threshold', () => {
    expect(simMatch(Buffer.from('abc def'), [c(0, 'xyz')], -1, 0.7).chosen).to.equal(undefined);
  });
});
