import { expect } from 'chai';
import { ReplayLedger } from '../../../src/replay/match/replay-ledger.js';
import { addr, makePrelude, makeSession } from '../make-session.js';

const redisA = '127.0.0.1:6379';
const redisB = '127.0.0.1:6380';
const GET = '*2\r\n$3\r\nGET\r\n$1\r\nk\r\n';

describe('ReplayLedger', () => {
  it('is destination-aware: the same request to two backends gets each its own answer', () => {
    const s = makeSession('s1', { request: 'x', response: 'y' }, [
      { dst: redisA, request: GET, response: '$1\r\nA\r\n' },
      { dst: redisB, request: GET, response: '$1\r\nB\r\n' },
    ]);
    const ledger = new ReplayLedger();
    ledger.addSession(s);
    const b = ledger.openConnection(addr(redisB), 's1').serve(Buffer.from(GET), 's1');
    expect(b.response?.toString()).to.equal('$1\r\nB\r\n');
    expect(b.decision).to.include({ matched: true, strategy: 'exact', talkIndex: 1 });
    const a = ledger.openConnection(addr(redisA), 's1').serve(Buffer.from(GET), 's1');
    expect(a.response?.toString()).to.equal('$1\r\nA\r\n');
  });

  it('serves each recorded talk at most once and reports unused ones', () => {
    const s = makeSession('s1', { request: 'x', response: 'y' }, [
      { dst: redisA, request: GET, response: '$1\r\n1\r\n' },
      { dst: redisA, request: GET, response: '$1\r\n2\r\n' },
      { dst: redisA, request: '*1\r\n$4\r\nPING\r\n', response: '+PONG\r\n' },
    ]);
    const ledger = new ReplayLedger();
    ledger.addSession(s);
    const conn = ledger.openConnection(addr(redisA), 's1');
    expect(conn.serve(Buffer.from(GET), 's1').response?.toString()).to.equal('$1\r\n1\r\n');
    expect(conn.serve(Buffer.from(GET), 's1').response?.toString()).to.equal('$1\r\n2\r\n');
    const third = conn.serve(Buffer.from(GET), 's1');
    expect(third.decision.matched).to.equal(false);
    expect(third.decision.top.map((t) => t.talkIndex)).to.deep.equal([2]);
    expect(third.decision.explanation).to.match(/no match.*127\.0\.0\.1:6379/);
    expect(ledger.unusedTalks('s1').map((t) => t.index)).to.deep.equal([2]);
    ledger.removeSession('s1');
    expect(ledger.hasSession('s1')).to.equal(false);
    expect(ledger.unusedTalks('s1')).to.deep.equal([]);
    const after = conn.serve(Buffer.from('*1\r\n$4\r\nPING\r\n'), 's1');
    expect(after.decision.matched).to.equal(false);
    expect(after.decision.explanation).to.match(/session s1 is not being replayed/);
  });

  it('falls back to the strategy and explains the top 3 candidates', () => {
    const s = makeSession('s1', { request: 'x', response: 'y' }, [
      { dst: '10.0.0.1:80', request: 'GET /users/1 HTTP/1.1\r\nHost: a\r\n\r\n', response: 'one' },
      { dst: '10.0.0.1:80', request: 'GET /orders/1 HTTP/1.1\r\nHost: a\r\n\r\n', response: 'two' },
      { dst: '10.0.0.1:80', request: 'DELETE /x HTTP/1.1\r\n\r\n', response: 'three' },
      { dst: '10.0.0.1:80', request: 'PUT /y HTTP/1.1\r\n\r\n', response: 'four' },
    ]);
    const ledger = new ReplayLedger({ strategy: 'chunk', simThreshold: 0.7 });
    ledger.addSession(s);
    const r = ledger.openConnection(addr('10.0.0.1:80'), 's1').serve(Buffer.from('GET /orders/1 HTTP/1.1\r\nHost: b\r\n\r\n'), 's1');
    expect(r.decision).to.include({ matched: true, strategy: 'chunk', talkIndex: 1 });
    expect(r.decision.top).to.have.length(3);
    expect(r.decision.top[0]?.talkIndex).to.equal(1);
    expect(r.decision.top[0]?.score).to.be.greaterThan(r.decision.top[1]?.score ?? 1);
  });

  it('sends a server-first greeting and serves the prelude by matching, per connection', () => {
    const prelude = makePrelude('127.0.0.1:3306', [
      { response: 'GREETING' },
      { request: 'AUTH user', response: 'AUTH-OK' },
    ]);
    const s = makeSession('s1', { request: 'x', response: 'y' }, [{ dst: '127.0.0.1:3306', request: 'QUERY 1', response: 'ROWS' }], [prelude]);
    const ledger = new ReplayLedger();
    ledger.addSession(s);
    for (let i = 0; i < 2; i++) {
      const conn = ledger.openConnection(addr('127.0.0.1:3306'), 's1');
      expect(conn.greeting()?.toString()).to.equal('GREETING');
      expect(conn.greeting()).to.equal(undefined);
      const auth = conn.serve(Buffer.from('AUTH user'), 's1');
      expect(auth.decision).to.include({ matched: true, source: 'prelude', talkIndex: 1 });
      expect(auth.response?.toString()).to.equal('AUTH-OK');
    }
  });

  it('answers a session-less start-up connection from the preloaded sessions, then its owner', () => {
    const prelude = makePrelude('127.0.0.1:3306', [{ response: 'GREETING' }, { request: 'AUTH', response: 'OK' }]);
    const recorded = makeSession('old', { request: 'x', response: 'y' }, [], [prelude]);
    const s = makeSession('s2', { request: 'x', response: 'y' }, [{ dst: '127.0.0.1:3306', request: 'Q', response: 'R' }]);
    const ledger = new ReplayLedger();
    ledger.preload([recorded]);
    ledger.addSession(s);
    const conn = ledger.openConnection(addr('127.0.0.1:3306'), undefined);
    expect(conn.greeting()?.toString()).to.equal('GREETING');
    expect(conn.serve(Buffer.from('AUTH'), undefined).response?.toString()).to.equal('OK');
    const q = conn.serve(Buffer.from('Q'), undefined);
    expect(q.sessionId).to.equal('s2');
    expect(q.response?.toString()).to.equal('R');
  });

  it('serves a pool\'s connection setup (HELLO) from any recorded one, and does not owe it', () => {
    const HELLO = '*2\r\n$5\r\nhello\r\n$1\r\n2\r\n';
    const GET_A = '*2\r\n$3\r\nget\r\n$1\r\na\r\n';
    const GET_B = '*2\r\n$3\r\nget\r\n$1\r\nb\r\n';
    // Recorded: A opened the pooled connection (HELLO), B reused it.
    const a = makeSession('a', { request: 'x', response: 'y' }, [{ dst: redisA, request: HELLO, response: '%7\r\n' }, { dst: redisA, request: GET_A, response: '$1\r\nA\r\n' }]);
    const b = makeSession('b', { request: 'x', response: 'y' }, [{ dst: redisA, request: GET_B, response: '$1\r\nB\r\n' }]);
    const ledger = new ReplayLedger();
    ledger.addSession(a);
    ledger.addSession(b);
    // Replayed the other way round: B opens the connection, A reuses it.
    const conn = ledger.openConnection(addr(redisA), 'b');
    const hello = conn.serve(Buffer.from(HELLO), 'b');
    expect(hello.decision).to.include({ matched: true, sessionId: 'a', talkIndex: 0 });
    expect(hello.decision.explanation).to.match(/^connection setup: byte-identical to talk #0 of session a/);
    expect(hello.sessionId).to.equal('b');
    expect(hello.response?.toString()).to.equal('%7\r\n');
    expect(conn.serve(Buffer.from(GET_B), 'b').response?.toString()).to.equal('$1\r\nB\r\n');
    expect(conn.serve(Buffer.from(GET_A), 'a').response?.toString()).to.equal('$1\r\nA\r\n');
    expect(ledger.unusedTalks('a')).to.deep.equal([]);
    expect(ledger.unusedTalks('b')).to.deep.equal([]);
    // A changed setup is not served.
    const changed = ledger.openConnection(addr(redisA), 'b').serve(Buffer.from('*2\r\n$5\r\nhello\r\n$1\r\n3\r\n'), 'b');
    expect(changed.decision.matched).to.equal(false);
    // Only setup commands get this: an unrecorded GET stays unmatched.
    expect(ledger.openConnection(addr(redisA), 'b').serve(Buffer.from(GET_A), 'b').decision.matched).to.equal(false);
  });

  it('gives a session-less connection the longest recorded prelude (start-up warm-up talks included)', () => {
    const short = makePrelude('127.0.0.1:3306', [{ response: 'GREETING' }, { request: 'AUTH', response: 'OK' }]);
    const long = makePrelude('127.0.0.1:3306', [{ response: 'GREETING' }, { request: 'AUTH', response: 'OK' }, { request: 'PING', response: 'PONG' }]);
    const ledger = new ReplayLedger();
    ledger.preload([makeSession('p1', { request: 'x', response: 'y' }, [], [short]), makeSession('p2', { request: 'x', response: 'y' }, [], [long])]);
    const conn = ledger.openConnection(addr('127.0.0.1:3306'), undefined);
    expect(conn.greeting()?.toString()).to.equal('GREETING');
    expect(conn.serve(Buffer.from('AUTH'), undefined).response?.toString()).to.equal('OK');
    expect(conn.serve(Buffer.from('PING'), undefined).response?.toString()).to.equal('PONG');
  });

  it('matches UDP datagrams only against datagram talks, and sends nothing back', () => {
    const s = makeSession('s1', { request: 'x', response: 'y' }, [
      { dst: '127.0.0.1:8125', request: 'hits:1|c', udp: true },
      { dst: '127.0.0.1:8125', request: 'hits:1|c', response: 'tcp' },
    ]);
    const ledger = new ReplayLedger();
    ledger.addSession(s);
    const r = ledger.matchDatagram('s1', addr('127.0.0.1:8125'), Buffer.from('hits:1|c'));
    expect(r.decision).to.include({ matched: true, talkIndex: 0 });
    expect(r.response).to.equal(undefined);
  });
});
