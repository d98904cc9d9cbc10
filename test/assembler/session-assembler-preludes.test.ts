import { expect } from 'chai';
import { MYSQL, REDIS, Sim, text } from './synthetic-events.js';

/** A MySQL packet: 3-byte LE length, sequence id, payload. */
function packet(seq: number, payload: Buffer | number[]): Buffer {
  const body = Buffer.from(payload);
  return Buffer.concat([Buffer.from([body.length & 0xff, (body.length >> 8) & 0xff, body.length >> 16, seq]), body]);
}

const GREETING = packet(0, [0x0a, ...Buffer.from('8.0.36\0'), 1, 2, 3, 4]);
const AUTH = packet(1, [0x85, 0xa6, 0xff, 0x01, ...Buffer.from('root\0')]);
const AUTH_SWITCH = packet(2, [0xfe, ...Buffer.from('mysql_native_password\0')]);
const AUTH_DATA = packet(3, Buffer.from('scrambled'));
const MORE_DATA = packet(2, [0x01, 0x03]);
const OK = packet(4, [0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);
const QUERY = packet(0, [0x03, ...Buffer.from('SELECT 1')]);
const RESULT = packet(1, [0x01]);

const talks = (ts: { request: Buffer; response: Buffer }[]) => ts.map((t) => [t.request.toString('hex'), t.response.toString('hex')]);

describe('SessionAssembler: preludes', () => {
  it('MySQL: greeting, auth switch and more-data up to the OK form the prelude; queries are talks', () => {
    const sim = new Sim();
    sim.accept(1n, 10n);
    sim.recv(1n, 10n, 'req');
    sim.connect(2n, 10n, MYSQL);
    sim.recv(2n, 10n, GREETING);
    sim.send(2n, 10n, AUTH);
    sim.recv(2n, 10n, AUTH_SWITCH);
    sim.send(2n, 10n, AUTH_DATA);
    // The OK arrives split across two reads, after a more-data packet that must not end the phase.
    const tail = Buffer.concat([MORE_DATA, OK]);
    sim.recv(2n, 10n, tail.subarray(0, 7));
    sim.recv(2n, 10n, tail.subarray(7));
    sim.send(2n, 10n, QUERY);
    sim.recv(2n, 10n, RESULT);
    sim.send(1n, 10n, 'resp');
    sim.close(1n, 10n);
    const s = sim.only();
    expect(s.preludes).to.have.length(1);
    const p = s.preludes[0]!;
    expect(p).to.include({ connId: 2n, serverFirst: true });
    expect(p.peer).to.deep.equal(MYSQL);
    expect(talks(p.talks)).to.deep.equal(talks([
      { request: Buffer.alloc(0), response: GREETING },
      { request: AUTH, response: AUTH_SWITCH },
      { request: AUTH_DATA, response: tail },
    ]));
    expect(p.talks.map((t) => t.index)).to.deep.equal([0, 1, 2]);
    expect(talks(s.talks)).to.deep.equal(talks([{ request: QUERY, response: RESULT }]));
  });

  it('MySQL: a connection opened at startup carries its prelude into every later session using it', () => {
    const sim = new Sim();
    sim.connect(2n, 1n, MYSQL);
    sim.recv(2n, 1n, GREETING);
    sim.send(2n, 1n, AUTH);
    sim.recv(2n, 1n, OK);
    sim.accept(1n, 10n);
    for (const n of [1, 2]) {
      sim.recv(1n, 10n, `req${n}`);
      sim.send(2n, 10n, QUERY);
      sim.recv(2n, 10n, RESULT);
      sim.send(1n, 10n, `resp${n}`);
    }
    sim.close(1n, 10n);
    expect(sim.sessions).to.have.length(2);
    for (const s of sim.sessions) {
      expect(s.preludes).to.have.length(1);
      expect(s.preludes[0]!.talks).to.have.length(2);
      expect(text(s.preludes[0]!.talks[1]!.response)).to.equal(OK.toString());
      expect(talks(s.talks)).to.deep.equal(talks([{ request: QUERY, response: RESULT }]));
    }
    expect(sim.asm.stats().unattributedTalks).to.equal(0);
  });

  it('MySQL: an ERR packet also ends the handshake', () => {
    const sim = new Sim();
    sim.accept(1n, 10n);
    sim.recv(1n, 10n, 'req');
    sim.connect(2n, 10n, MYSQL);
    sim.recv(2n, 10n, GREETING);
    sim.send(2n, 10n, AUTH);
    sim.recv(2n, 10n, packet(2, [0xff, 0x15, 0x04]));
    sim.send(2n, 10n, QUERY);
    sim.recv(2n, 10n, RESULT);
    sim.send(1n, 10n, 'resp');
    sim.close(1n, 10n);
    expect(sim.only().preludes[0]!.talks).to.have.length(2);
    expect(sim.only().talks).to.have.length(1);
  });

  it('other server-first protocols: the greeting and the client first talk', () => {
    const sim = new Sim();
    sim.accept(1n, 10n);
    sim.recv(1n, 10n, 'req');
    sim.connect(2n, 10n, REDIS);
    sim.recv(2n, 10n, '220 smtp ready\r\n');
    sim.send(2n, 10n, 'EHLO me\r\n');
    sim.recv(2n, 10n, '250 ok\r\n');
    sim.send(2n, 10n, 'MAIL FROM:<a>\r\n');
    sim.recv(2n, 10n, '250 ok\r\n');
    sim.send(1n, 10n, 'resp');
    sim.close(1n, 10n);
    const s = sim.only();
    expect(s.preludes[0]!.talks.map((t) => [text(t.request), text(t.response)])).to.deep.equal([
      ['', '220 smtp ready\r\n'],
      ['EHLO me\r\n', '250 ok\r\n'],
    ]);
    expect(s.talks.map((t) => text(t.request))).to.deep.equal(['MAIL FROM:<a>\r\n']);
  });

  it('client-first: talks before any session used the connection join its prelude', () => {
    const sim = new Sim();
    sim.connect(2n, 1n, REDIS);
    sim.send(2n, 1n, 'AUTH pw\r\n');
    sim.recv(2n, 1n, '+OK\r\n');
    sim.accept(1n, 10n);
    sim.recv(1n, 10n, 'req');
    sim.send(2n, 10n, 'GET k\r\n');
    sim.recv(2n, 10n, '$1\r\nv\r\n');
    sim.send(1n, 10n, 'resp');
    sim.close(1n, 10n);
    const s = sim.only();
    expect(s.preludes).to.have.length(1);
    expect(s.preludes[0]!.serverFirst).to.equal(false);
    expect(s.preludes[0]!.talks.map((t) => text(t.request))).to.deep.equal(['AUTH pw\r\n']);
    expect(s.talks.map((t) => text(t.request))).to.deep.equal(['GET k\r\n']);
  });

  it('a client-first connection first used inside a session has no prelude', () => {
    const sim = new Sim();
    sim.accept(1n, 10n);
    sim.recv(1n, 10n, 'req');
    sim.connect(2n, 10n, REDIS);
    sim.send(2n, 10n, 'GET k\r\n');
    sim.recv(2n, 10n, '$-1\r\n');
    sim.send(1n, 10n, 'resp');
    sim.close(1n, 10n);
    expect(sim.only().preludes).to.deep.equal([]);
    expect(sim.only().talks).to.have.length(1);
  });

  it('cuts a prelude at 64 talks; later talks outside sessions are unattributed', () => {
    const sim = new Sim();
    sim.connect(2n, 1n, REDIS);
    for (let i = 0; i < 70; i++) {
      sim.send(2n, 1n, `PING ${i}\r\n`);
      sim.recv(2n, 1n, '+PONG\r\n');
    }
    expect(sim.asm.stats().unattributedTalks).to.equal(6);
    sim.accept(1n, 10n);
    sim.recv(1n, 10n, 'req');
    sim.send(2n, 10n, 'GET k\r\n');
    sim.recv(2n, 10n, '$-1\r\n');
    sim.send(1n, 10n, 'resp');
    sim.close(1n, 10n);
    expect(sim.only().preludes[0]!.talks).to.have.length(64);
  });
});
