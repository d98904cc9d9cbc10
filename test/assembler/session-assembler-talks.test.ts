import { expect } from 'chai';
import { AddressFamily, EventKind } from '../../src/generated/koala/v1/agent.pb.js';
import { Transport } from '../../src/generated/koala/v1/session.pb.js';
import { inet, REDIS, Sim, text } from './synthetic-events.js';

const B = inet('10.0.0.9', 80);

/** A session open on thread 10 (inbound conn 1). */
function opened(opts: ConstructorParameters<typeof Sim>[0] = {}): Sim {
  const sim = new Sim(opts);
  sim.accept(1n, 10n);
  sim.recv(1n, 10n, 'req');
  return sim;
}

function finish(sim: Sim): void {
  sim.send(1n, 10n, 'resp');
  sim.close(1n, 10n);
}

const pairs = (sim: Sim) => sim.only().talks.map((t) => [t.index, t.connId, text(t.request), text(t.response)]);

describe('SessionAssembler: outbound talks', () => {
  it('pairs interleaved I/O on two connections per connection', () => {
    const sim = opened();
    sim.connect(2n, 10n);
    sim.connect(3n, 10n, B);
    sim.send(2n, 10n, 'A?');
    sim.send(3n, 10n, 'B?');
    sim.recv(2n, 10n, 'A!');
    sim.recv(3n, 10n, 'B!');
    finish(sim);
    expect(pairs(sim)).to.deep.equal([
      [0, 2n, 'A?', 'A!'],
      [1, 3n, 'B?', 'B!'],
    ]);
  });

  it('keeps a pipelined batch (one write, replies in several reads) as one talk', () => {
    const sim = opened();
    sim.connect(2n, 10n);
    sim.send(2n, 10n, 'PING\r\nPING\r\nPING\r\n');
    sim.recv(2n, 10n, '+PONG\r\n');
    sim.recv(2n, 10n, '+PONG\r\n+PONG\r\n');
    finish(sim);
    expect(pairs(sim)).to.deep.equal([[0, 2n, 'PING\r\nPING\r\nPING\r\n', '+PONG\r\n+PONG\r\n+PONG\r\n']]);
  });

  it('starts a new talk on a send after a recv, and after an EOF', () => {
    const sim = opened();
    sim.connect(2n, 10n);
    sim.send(2n, 10n, 'a');
    sim.send(2n, 10n, 'b');
    sim.recv(2n, 10n, '1');
    sim.send(2n, 10n, 'c');
    sim.eof(2n, 10n);
    sim.send(2n, 10n, 'd');
    sim.close(2n, 10n);
    finish(sim);
    expect(pairs(sim)).to.deep.equal([
      [0, 2n, 'ab', '1'],
      [1, 2n, 'c', ''],
      [2, 2n, 'd', ''],
    ]);
  });

  it('gives a pooled connection to whoever uses it now, each talk to its owner session', () => {
    const sim = new Sim();
    sim.accept(1n, 10n);
    sim.accept(5n, 11n);
    sim.recv(1n, 10n, 'r10');
    sim.recv(5n, 11n, 'r11');
    sim.connect(2n, 10n);
    sim.send(2n, 10n, 'from10');
    sim.recv(2n, 10n, 'ok10');
    sim.send(2n, 11n, 'from11');
    sim.recv(2n, 11n, 'ok11');
    sim.send(1n, 10n, 'R10');
    sim.close(1n, 10n);
    sim.send(5n, 11n, 'R11');
    sim.close(5n, 11n);
    expect(sim.sessions.map((s) => [s.vtid, s.talks.map((t) => [t.index, text(t.request), text(t.response)])])).to.deep.equal([
      [10n, [[0, 'from10', 'ok10']]],
      [11n, [[0, 'from11', 'ok11']]],
    ]);
  });

  it('starts a new talk when another owner sends on a connection before any reply', () => {
    const sim = new Sim();
    sim.accept(1n, 10n);
    sim.accept(5n, 11n);
    sim.recv(1n, 10n, 'r10');
    sim.recv(5n, 11n, 'r11');
    sim.connect(2n, 10n);
    sim.send(2n, 10n, 'x');
    sim.send(2n, 11n, 'y');
    sim.asm.flush();
    expect(sim.sessions.map((s) => s.talks.map((t) => text(t.request)))).to.deep.equal([['x'], ['y']]);
  });

  it('counts a talk outside any session as unattributed once the prelude is closed', () => {
    const sim = opened();
    sim.connect(2n, 10n);
    sim.send(2n, 10n, 'in-session');
    sim.recv(2n, 10n, 'ok');
    finish(sim);
    sim.send(2n, 50n, 'background');
    sim.recv(2n, 50n, 'ok');
    expect(sim.asm.stats().unattributedTalks).to.equal(1);
    expect(sim.warnings.some((w) => w.includes('outside any session'))).to.equal(true);
    expect(sim.only().talks).to.have.length(1);
  });

  it('records a DATAGRAM as a one-way UDP talk to its original destination', () => {
    const sim = opened();
    const statsd = inet('10.0.0.5', 8125);
    sim.push({ kind: EventKind.EVENT_KIND_DATAGRAM, connId: 7n, tid: 10n, originalDst: statsd, payload: Buffer.from('c:1|c'), payloadLen: 5n });
    finish(sim);
    const t = sim.only().talks[0]!;
    expect(t).to.include({ transport: Transport.TRANSPORT_UDP, oneWay: true, requestLen: 5n });
    expect(t.peer).to.deep.equal(statsd);
    expect(text(t.request)).to.equal('c:1|c');
  });

  it('ends the current talk as one-way at a BOUNDARY; the next send starts a new talk', () => {
    const sim = opened();
    sim.connect(2n, 10n);
    sim.send(2n, 10n, 'log1');
    sim.push({ kind: EventKind.EVENT_KIND_BOUNDARY, connId: 2n, tid: 10n });
    sim.send(2n, 10n, 'log2');
    sim.push({ kind: EventKind.EVENT_KIND_BOUNDARY, connId: 2n, tid: 10n });
    finish(sim);
    expect(sim.only().talks.map((t) => [text(t.request), t.oneWay])).to.deep.equal([
      ['log1', true],
      ['log2', true],
    ]);
  });

  it('drops talks to bypassed addresses, by ip:port and by :port', () => {
    const sim = opened({ bypassAddrs: ['10.0.0.2:6379', ':9999'] });
    sim.connect(2n, 10n, REDIS);
    sim.connect(3n, 10n, inet('10.1.1.1', 9999));
    sim.connect(4n, 10n, B);
    for (const c of [2n, 3n, 4n]) {
      sim.send(c, 10n, `q${c}`);
      sim.recv(c, 10n, `a${c}`);
    }
    finish(sim);
    expect(pairs(sim)).to.deep.equal([[0, 4n, 'q4', 'a4']]);
    expect(sim.asm.stats().bypassedEvents).to.equal(4);
  });

  it('records unix-socket connections with transport UNIX', () => {
    const sim = opened();
    const sock = { family: AddressFamily.ADDRESS_FAMILY_UNIX, ip: Buffer.alloc(0), port: 0, path: '/run/db.sock' };
    sim.connect(2n, 10n, sock);
    sim.send(2n, 10n, 'q');
    sim.recv(2n, 10n, 'a');
    finish(sim);
    expect(sim.only().talks[0]!.transport).to.equal(Transport.TRANSPORT_UNIX);
  });

  it('drops (and counts) a reply that comes after its session was cut by the next request', () => {
    const sim = opened();
    sim.connect(2n, 10n);
    sim.send(2n, 10n, 'slow?');
    sim.send(1n, 10n, 'resp');
    sim.recv(1n, 10n, 'req2');
    sim.recv(2n, 10n, 'late');
    expect(sim.sessions[0]!.completeness?.notes).to.include('ended while an outbound talk awaited its response');
    expect(sim.asm.stats().lateResponseBytes).to.equal(4);
    sim.asm.flush();
    expect(sim.sessions[1]!.talks).to.have.length(0);
  });
});
