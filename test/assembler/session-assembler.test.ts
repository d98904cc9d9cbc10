import { expect } from 'chai';
import { AgentKind, EventKind } from '../../src/generated/koala/v1/agent.pb.js';
import { SessionEndReason, Transport } from '../../src/generated/koala/v1/session.pb.js';
import { SessionAssembler } from '../../src/assembler/session-assembler.js';
import { CLIENT_ADDR, hello, inet, REDIS, Sim, SUT_ADDR, text } from './synthetic-events.js';

describe('SessionAssembler: inbound and session boundaries', () => {
  it('records one request, its outbound talks and its response as one session with all fields', () => {
    const sim = new Sim();
    sim.accept(1n, 10n);
    sim.recv(1n, 10n, 'GET / HTTP/1.1\r\n\r\n');
    sim.connect(2n, 10n);
    sim.send(2n, 10n, 'GET a\r\n');
    sim.recv(2n, 10n, '$1\r\nx\r\n');
    sim.send(2n, 10n, 'GET b\r\n');
    sim.recv(2n, 10n, '$1\r\ny\r\n');
    sim.send(1n, 10n, 'HTTP/1.1 200 OK\r\n\r\n');
    sim.close(1n, 10n);
    const s = sim.only();
    expect(s.endReason).to.equal(SessionEndReason.SESSION_END_REASON_INBOUND_CLOSED);
    expect(s).to.include({ sut: 'svc', pid: 100, hostname: 'host1', agent: AgentKind.AGENT_KIND_C_SHIM, vtid: 10n });
    expect(text(s.inbound?.request)).to.equal('GET / HTTP/1.1\r\n\r\n');
    expect(text(s.inbound?.response)).to.equal('HTTP/1.1 200 OK\r\n\r\n');
    expect(s.inbound?.peer).to.deep.equal(CLIENT_ADDR);
    expect(s.inbound?.local).to.deep.equal(SUT_ADDR);
    expect(s.inbound?.connId).to.equal(1n);
    expect(s.inbound?.requestLen).to.equal(18n);
    expect(s.inbound!.responseNs > s.inbound!.requestNs).to.equal(true);
    expect(s.talks.map((t) => [t.index, text(t.request), text(t.response)])).to.deep.equal([
      [0, 'GET a\r\n', '$1\r\nx\r\n'],
      [1, 'GET b\r\n', '$1\r\ny\r\n'],
    ]);
    expect(s.talks[0]).to.include({ connId: 2n, tid: 10n, transport: Transport.TRANSPORT_TCP, oneWay: false });
    expect(s.talks[0]!.peer).to.deep.equal(REDIS);
    expect(s.startedNs).to.equal(s.inbound!.requestNs);
    expect(s.endedNs > s.startedNs).to.equal(true);
    expect(s.preludes).to.deep.equal([]);
    expect(s.completeness).to.deep.equal({ droppedEvents: 0n, truncatedBytes: 0n, seqGaps: 0n, notes: [] });
  });

  it('cuts keep-alive requests with NEXT_REQUEST, the new bytes starting the next session', () => {
    const sim = new Sim();
    sim.accept(1n, 10n);
    sim.recv(1n, 10n, 'req1');
    sim.send(1n, 10n, 'resp1');
    sim.recv(1n, 10n, 'req2');
    expect(sim.sessions).to.have.length(1);
    expect(sim.sessions[0]!.endReason).to.equal(SessionEndReason.SESSION_END_REASON_NEXT_REQUEST);
    expect(text(sim.sessions[0]!.inbound?.request)).to.equal('req1');
    sim.send(1n, 10n, 'resp2');
    sim.eof(1n, 10n);
    expect(sim.sessions).to.have.length(2);
    expect(sim.sessions[1]!.endReason).to.equal(SessionEndReason.SESSION_END_REASON_INBOUND_CLOSED);
    expect(text(sim.sessions[1]!.inbound?.request)).to.equal('req2');
    expect(text(sim.sessions[1]!.inbound?.response)).to.equal('resp2');
    expect(sim.sessions[0]!.id < sim.sessions[1]!.id).to.equal(true);
  });

  it('joins a request read in several pieces and a response written in several', () => {
    const sim = new Sim();
    sim.accept(1n, 10n);
    sim.recv(1n, 10n, 'PO');
    sim.recv(1n, 10n, 'ST /');
    sim.send(1n, 10n, 'HTTP/1.1 ');
    sim.send(1n, 10n, '200');
    sim.close(1n, 10n);
    const s = sim.only();
    expect(text(s.inbound?.request)).to.equal('POST /');
    expect(text(s.inbound?.response)).to.equal('HTTP/1.1 200');
  });

  it('keeps a session open on EOF before the response (half-close) and ends it on EOF after', () => {
    const sim = new Sim();
    sim.accept(1n, 10n);
    sim.recv(1n, 10n, 'req');
    sim.eof(1n, 10n);
    expect(sim.sessions).to.have.length(0);
    sim.send(1n, 10n, 'resp');
    sim.eof(1n, 10n);
    expect(sim.only().endReason).to.equal(SessionEndReason.SESSION_END_REASON_INBOUND_CLOSED);
    expect(text(sim.only().inbound?.response)).to.equal('resp');
  });

  it('ends a session whose inbound closed before the response, with a note', () => {
    const sim = new Sim();
    sim.accept(1n, 10n);
    sim.recv(1n, 10n, 'req');
    sim.close(1n, 10n);
    const s = sim.only();
    expect(s.endReason).to.equal(SessionEndReason.SESSION_END_REASON_INBOUND_CLOSED);
    expect(s.completeness?.notes).to.include('inbound closed before response');
  });

  it('worker pool: acceptor and worker delegated to one vtid make one session', () => {
    const sim = new Sim();
    sim.accept(1n, 10n);
    sim.recv(1n, 10n, 'req', 777n);
    sim.connect(2n, 20n, REDIS, 777n);
    sim.send(2n, 20n, 'PING', 777n);
    sim.recv(2n, 20n, '+PONG', 777n);
    sim.send(1n, 20n, 'resp', 777n);
    sim.close(1n, 20n, 777n);
    const s = sim.only();
    expect(s.vtid).to.equal(777n);
    expect(text(s.inbound?.request)).to.equal('req');
    expect(text(s.inbound?.response)).to.equal('resp');
    expect(s.talks).to.have.length(1);
    expect(s.talks[0]!.tid).to.equal(20n);
  });

  it('thread pool: one OS thread serving connections one after another makes one session each', () => {
    const sim = new Sim();
    sim.accept(1n, 10n, inet('127.0.0.1', 40001));
    sim.accept(2n, 10n, inet('127.0.0.1', 40002));
    sim.recv(1n, 30n, 'a');
    sim.send(1n, 30n, 'A');
    sim.recv(2n, 30n, 'b');
    sim.send(2n, 30n, 'B');
    sim.close(2n, 30n);
    expect(sim.sessions.map((s) => [text(s.inbound?.request), text(s.inbound?.response), s.inbound?.peer?.port])).to.deep.equal([
      ['a', 'A', 40001],
      ['b', 'B', 40002],
    ]);
    expect(sim.sessions[0]!.endReason).to.equal(SessionEndReason.SESSION_END_REASON_NEXT_REQUEST);
  });

  it('attributes an inbound send by a thread without that session to the session reading the connection', () => {
    const sim = new Sim();
    sim.accept(1n, 10n);
    sim.recv(1n, 10n, 'req');
    sim.send(1n, 99n, 'resp'); // a writer thread, not delegated
    sim.close(1n, 99n);
    expect(text(sim.only().inbound?.response)).to.equal('resp');
    expect(sim.only().vtid).to.equal(10n);
  });

  it('a new request on a connection from another thread ends the answered session there', () => {
    const sim = new Sim();
    sim.accept(1n, 10n);
    sim.recv(1n, 10n, 'req1');
    sim.send(1n, 10n, 'resp1');
    sim.recv(1n, 11n, 'req2');
    expect(sim.sessions).to.have.length(1);
    expect(sim.sessions[0]!.endReason).to.equal(SessionEndReason.SESSION_END_REASON_NEXT_REQUEST);
    sim.send(1n, 11n, 'resp2');
    sim.close(1n, 11n);
    expect(sim.sessions[1]!.vtid).to.equal(11n);
    expect(text(sim.sessions[1]!.inbound?.request)).to.equal('req2');
  });

  it('counts inbound bytes sent with no request open (server-first inbound) and warns', () => {
    const sim = new Sim();
    sim.accept(1n, 10n);
    sim.send(1n, 10n, 'hello there');
    expect(sim.sessions).to.have.length(0);
    expect(sim.asm.stats().unattributedInboundBytes).to.equal(11);
    expect(sim.warnings.some((w) => w.includes('inbound bytes'))).to.equal(true);
  });

  it('treats a never-opened connection as inbound when its local port is one the process accepted on', () => {
    const sim = new Sim();
    sim.accept(1n, 10n);
    sim.close(1n, 10n);
    sim.push({ kind: EventKind.EVENT_KIND_RECV, connId: 5n, tid: 10n, local: SUT_ADDR, peer: inet('127.0.0.1', 41000), payload: Buffer.from('req'), payloadLen: 3n });
    sim.push({ kind: EventKind.EVENT_KIND_SEND, connId: 6n, tid: 10n, local: inet('10.0.0.1', 50000), peer: REDIS, payload: Buffer.from('PING'), payloadLen: 4n });
    sim.push({ kind: EventKind.EVENT_KIND_RECV, connId: 6n, tid: 10n, payload: Buffer.from('+PONG'), payloadLen: 5n });
    sim.send(5n, 10n, 'resp');
    sim.close(5n, 10n);
    const s = sim.only();
    expect(text(s.inbound?.request)).to.equal('req');
    expect(s.inbound?.peer?.port).to.equal(41000);
    expect(s.talks.map((t) => [text(t.request), t.peer?.port])).to.deep.equal([['PING', 6379]]);
  });

  it('records a connection first seen without addresses as outbound with an unknown peer, counted', () => {
    const sim = new Sim();
    sim.accept(1n, 10n);
    sim.recv(1n, 10n, 'req');
    sim.send(9n, 10n, 'x');
    sim.recv(9n, 10n, 'y');
    sim.send(1n, 10n, 'resp');
    sim.close(1n, 10n);
    expect(sim.only().talks).to.have.length(1);
    expect(sim.only().talks[0]!.peer).to.equal(undefined);
    expect(sim.asm.stats().unknownConns).to.equal(1);
  });

  it('keeps processes apart by hostname, pid and start time', () => {
    const sessions: string[] = [];
    const asm = new SessionAssembler({}, (s) => sessions.push(`${s.pid}:${s.inbound?.request.toString()}`));
    asm.agentConnected(1, hello(100));
    asm.agentConnected(2, hello(200));
    const sim = new Sim();
    const e = (p: Parameters<Sim['ev']>[0]) => sim.ev(p);
    asm.ingest(1, [e({ kind: EventKind.EVENT_KIND_ACCEPT, connId: 1n, tid: 1n, local: SUT_ADDR, peer: CLIENT_ADDR })]);
    asm.ingest(2, [e({ kind: EventKind.EVENT_KIND_ACCEPT, connId: 1n, tid: 1n, local: SUT_ADDR, peer: CLIENT_ADDR })]);
    asm.ingest(1, [e({ kind: EventKind.EVENT_KIND_RECV, connId: 1n, tid: 1n, payload: Buffer.from('one'), payloadLen: 3n })]);
    asm.ingest(2, [e({ kind: EventKind.EVENT_KIND_RECV, connId: 1n, tid: 1n, payload: Buffer.from('two'), payloadLen: 3n })]);
    expect(asm.stats()).to.include({ processes: 2, openSessions: 2 });
    asm.flush();
    expect(sessions.sort()).to.deep.equal(['100:one', '200:two']);
  });

  it('never throws on events from an unknown link; counts them', () => {
    const asm = new SessionAssembler({}, () => undefined);
    const warnings: string[] = [];
    asm.onWarning = (m) => warnings.push(m);
    expect(() => asm.ingest(42, [new Sim().ev({ kind: EventKind.EVENT_KIND_SEND })])).not.to.throw();
    expect(asm.stats().rejectedEvents).to.equal(1);
    expect(warnings).to.have.length(1);
  });

  it('reports stats: processes, open sessions, emitted, events applied', () => {
    const sim = new Sim();
    sim.accept(1n, 10n);
    sim.recv(1n, 10n, 'req');
    expect(sim.asm.stats()).to.include({ processes: 1, openSessions: 1, sessionsEmitted: 0, eventsApplied: 2 });
    sim.asm.flush();
    expect(sim.asm.stats()).to.include({ openSessions: 0, sessionsEmitted: 1 });
    expect(sim.only().endReason).to.equal(SessionEndReason.SESSION_END_REASON_GATEWAY_SHUTDOWN);
  });
});
