import { expect } from 'chai';
import { EventKind } from '../../src/generated/koala/v1/agent.pb.js';
import { SessionEndReason } from '../../src/generated/koala/v1/session.pb.js';
import { hello, Sim, text } from './synthetic-events.js';

function opened(opts: ConstructorParameters<typeof Sim>[0] = {}): Sim {
  const sim = new Sim(opts);
  sim.accept(1n, 10n);
  sim.recv(1n, 10n, 'req');
  return sim;
}

describe('SessionAssembler: endings', () => {
  it('thread-shutdown helper ends the session of the vtid in flags', () => {
    const sim = opened();
    sim.send(1n, 10n, 'resp');
    sim.helper('to-koala!thread-shutdown', 99n, 10n);
    expect(sim.only().endReason).to.equal(SessionEndReason.SESSION_END_REASON_HELPER_SHUTDOWN);
  });

  it('thread-shutdown with flags 0 ends the caller (owner) session', () => {
    const sim = new Sim();
    sim.accept(1n, 10n);
    sim.recv(1n, 10n, 'req', 500n);
    sim.helper('to-koala!thread-shutdown', 10n, 0n, 500n);
    expect(sim.only().vtid).to.equal(500n);
    expect(sim.only().endReason).to.equal(SessionEndReason.SESSION_END_REASON_HELPER_SHUTDOWN);
  });

  it('defers a thread-shutdown while an outbound talk awaits its response, then cuts with the whole response', () => {
    const sim = opened();
    sim.connect(2n, 10n);
    sim.send(2n, 10n, 'GET slow');
    sim.helper('to-koala!thread-shutdown', 10n);
    expect(sim.sessions).to.have.length(0);
    sim.recv(2n, 10n, 'part1-');
    sim.recv(2n, 10n, 'part2');
    expect(sim.sessions).to.have.length(0);
    // The owner moving on to other work performs the cut.
    sim.connect(3n, 10n);
    const s = sim.only();
    expect(s.endReason).to.equal(SessionEndReason.SESSION_END_REASON_HELPER_SHUTDOWN);
    expect(text(s.talks[0]!.response)).to.equal('part1-part2');
    expect(s.completeness?.notes).to.deep.equal([]);
  });

  it('a deferred cut happens on tick once the response settled', () => {
    const sim = opened();
    sim.connect(2n, 10n);
    sim.send(2n, 10n, 'GET slow');
    sim.helper('to-koala!thread-shutdown', 10n);
    sim.tick(1000);
    expect(sim.sessions).to.have.length(0);
    sim.recv(2n, 10n, 'done');
    sim.tick(200);
    expect(sim.only().endReason).to.equal(SessionEndReason.SESSION_END_REASON_HELPER_SHUTDOWN);
  });

  it('a deferred cut is forced after maxDeferMs, with a note', () => {
    const sim = opened({ maxDeferMs: 5000 });
    sim.connect(2n, 10n);
    sim.send(2n, 10n, 'GET never');
    sim.push({ kind: EventKind.EVENT_KIND_THREAD_EXIT, tid: 10n });
    sim.tick(4000);
    expect(sim.sessions).to.have.length(0);
    sim.tick(1000);
    expect(sim.only().endReason).to.equal(SessionEndReason.SESSION_END_REASON_THREAD_EXIT);
    expect(sim.only().completeness?.notes).to.include('ended while an outbound talk awaited its response');
  });

  it('THREAD_EXIT ends the session owned by that thread', () => {
    const sim = opened();
    sim.send(1n, 10n, 'resp');
    sim.push({ kind: EventKind.EVENT_KIND_THREAD_EXIT, tid: 11n });
    expect(sim.sessions).to.have.length(0);
    sim.push({ kind: EventKind.EVENT_KIND_THREAD_EXIT, tid: 10n });
    expect(sim.only().endReason).to.equal(SessionEndReason.SESSION_END_REASON_THREAD_EXIT);
  });

  it('ends a session idle after its response began, not before', () => {
    const sim = opened({ idleAfterResponseMs: 2000 });
    sim.tick(5000);
    expect(sim.sessions, 'no response yet: never idle').to.have.length(0);
    sim.send(1n, 10n, 'resp');
    sim.tick(1999);
    expect(sim.sessions).to.have.length(0);
    sim.tick(1);
    expect(sim.only().endReason).to.equal(SessionEndReason.SESSION_END_REASON_IDLE);
  });

  it('is never idle-cut while an outbound talk awaits its response', () => {
    const sim = opened({ idleAfterResponseMs: 100 });
    sim.send(1n, 10n, 'resp');
    sim.connect(2n, 10n);
    sim.send(2n, 10n, 'async call');
    sim.tick(10000);
    expect(sim.sessions).to.have.length(0);
    sim.recv(2n, 10n, 'ok');
    sim.tick(100);
    expect(sim.only().endReason).to.equal(SessionEndReason.SESSION_END_REASON_IDLE);
    expect(text(sim.only().talks[0]!.response)).to.equal('ok');
  });

  it('keeps sessions of a disconnected agent through a reconnect, AGENT_GONE after the grace period', () => {
    const sim = opened({ agentGoneGraceMs: 5000 });
    sim.asm.agentDisconnected(1);
    sim.tick(4000);
    expect(sim.sessions).to.have.length(0);
    sim.asm.agentConnected(2, hello());
    sim.tick(4000);
    expect(sim.asm.stats().processes).to.equal(1);
    sim.asm.ingest(2, [sim.ev({ kind: EventKind.EVENT_KIND_SEND, connId: 1n, tid: 10n, payload: Buffer.from('resp'), payloadLen: 4n })]);
    sim.asm.agentDisconnected(2);
    sim.tick(5000);
    const s = sim.only();
    expect(s.endReason).to.equal(SessionEndReason.SESSION_END_REASON_AGENT_GONE);
    expect(text(s.inbound?.response)).to.equal('resp');
    expect(sim.asm.stats().processes).to.equal(0);
  });

  it('a restarted process (same pid, new start time) is a new process', () => {
    const sim = opened();
    sim.asm.agentConnected(2, hello(100, 999n));
    expect(sim.asm.stats().processes).to.equal(2);
  });

  it('ends a session past maxTalksPerSession with LIMIT', () => {
    const sim = opened({ maxTalksPerSession: 3 });
    sim.connect(2n, 10n);
    for (let i = 0; i < 4; i++) {
      sim.send(2n, 10n, `q${i}`);
      sim.recv(2n, 10n, `a${i}`);
    }
    const s = sim.only();
    expect(s.endReason).to.equal(SessionEndReason.SESSION_END_REASON_LIMIT);
    expect(s.talks).to.have.length(3);
  });
});

describe('SessionAssembler: completeness', () => {
  it('adds DROP_REPORT counts and a note to every open session of the process', () => {
    const sim = new Sim();
    sim.accept(1n, 10n);
    sim.accept(2n, 11n);
    sim.recv(1n, 10n, 'a');
    sim.recv(2n, 11n, 'b');
    sim.push({ kind: EventKind.EVENT_KIND_DROP_REPORT, droppedEvents: 7n, droppedBytes: 100n });
    sim.asm.flush();
    expect(sim.sessions.map((s) => s.completeness?.droppedEvents)).to.deep.equal([7n, 7n]);
    expect(sim.sessions[0]!.completeness?.notes).to.have.length(1);
    expect(sim.asm.stats().droppedEventsReported).to.equal(7);
  });

  it('adds a seq gap to sessions open at the time only', () => {
    const sim = opened();
    sim.seq += 4n; // four events lost
    sim.send(1n, 10n, 'resp');
    sim.recv(1n, 10n, 'req2');
    sim.asm.flush();
    expect(sim.sessions.map((s) => s.completeness?.seqGaps)).to.deep.equal([4n, 0n]);
    expect(sim.asm.stats().seqGapEvents).to.equal(4);
  });

  it('counts agent truncation, keeps untruncated lengths', () => {
    const sim = opened();
    sim.connect(2n, 10n);
    sim.send(2n, 10n, 'abc', 0n, 1000);
    sim.recv(2n, 10n, 'x');
    sim.send(1n, 10n, 'resp', 0n, 50);
    sim.close(1n, 10n);
    const s = sim.only();
    expect(s.talks[0]).to.include({ requestLen: 1000n });
    expect(text(s.talks[0]!.request)).to.equal('abc');
    expect(s.inbound?.responseLen).to.equal(50n);
    expect(s.completeness?.truncatedBytes).to.equal(997n + 46n);
  });

  it('caps stored bytes per payload at maxPayloadBytes and counts the rest', () => {
    const sim = new Sim({ maxPayloadBytes: 10 });
    sim.accept(1n, 10n);
    sim.recv(1n, 10n, '0123456');
    sim.recv(1n, 10n, '789abcdef');
    sim.send(1n, 10n, 'ok');
    sim.close(1n, 10n);
    const s = sim.only();
    expect(text(s.inbound?.request)).to.equal('0123456789');
    expect(s.inbound?.requestLen).to.equal(16n);
    expect(s.completeness?.truncatedBytes).to.equal(6n);
  });
});
