import { expect } from 'chai';
import { Logger } from '../../src/log/logger.js';
import { AssemblyCore } from '../../src/gateway/assembly-core.js';
import { EventKind, Event as EventMsg } from '../../src/generated/koala/v1/agent.pb.js';
import { hello, varint } from '../ingest/fake-sink.js';

describe('AssemblyCore loss log', () => {
  it('logs lost events at once, then at most once a minute with the count since, and never when nothing was lost', async () => {
    const lines: string[] = [];
    let clock = 1_000_000;
    const core = await AssemblyCore.open(
      {
        assembler: { idleAfterResponseMs: 2000, bypassAddrs: [], maxPayloadBytes: 1 << 20 },
        storeDir: undefined,
        logger: Logger.create({ level: 'DEBUG', destination: { write: (l) => void lines.push(l), close() {} }, now: () => clock }),
        now: () => clock,
      },
      () => undefined,
    );
    const h = hello(80).body;
    if (h?.$case !== 'hello') throw new Error('hello() builds a hello');
    core.agentConnected(1, h.value);
    let seq = 0n;
    const report = (n: bigint) => EventMsg.fromPartial({ seq: ++seq, tid: 1n, kind: EventKind.EVENT_KIND_DROP_REPORT, droppedEvents: n } as never);
    const lossLines = () => lines.filter((l) => l.includes('agents lost events'));

    core.tick();
    expect(lossLines()).to.deep.equal([]);
    core.ingest(1, [report(5n)]);
    core.tick();
    expect(lossLines()).to.have.length(1);
    expect(lossLines()[0]).to.match(/WARN .* events=5 total=5 /);
    // Seq 3 skips one: a gap of one event, counted with the next report.
    seq++;
    core.ingest(1, [report(7n)]);
    clock += 30_000;
    core.tick();
    expect(lossLines()).to.have.length(1);
    clock += 30_000;
    core.tick();
    expect(lossLines()).to.have.length(2);
    expect(lossLines()[1]).to.match(/ events=8 total=13 /);
    clock += 120_000;
    core.tick();
    expect(lossLines()).to.have.length(2);
    await core.close();
  });
});

describe('AssemblyCore batch frames', () => {
  const open = () =>
    AssemblyCore.open(
      { assembler: { idleAfterResponseMs: 2000, bypassAddrs: [], maxPayloadBytes: 1 << 20 }, storeDir: undefined, logger: Logger.silent() },
      () => undefined,
    );
  const helloOf = () => {
    const h = hello(81).body;
    if (h?.$case !== 'hello') throw new Error('hello() builds a hello');
    return h.value;
  };
  const event = (seq: bigint) => EventMsg.fromPartial({ seq, tid: 1n, kind: EventKind.EVENT_KIND_DROP_REPORT, droppedEvents: 1n } as never);
  const frameOf = (events: Buffer[]): Buffer => {
    const body = Buffer.concat(events.flatMap((e) => [Buffer.from([0x0a]), varint(e.length), e]));
    return Buffer.concat([Buffer.from([0x12]), varint(body.length), body]);
  };
  const encoded = (seq: bigint) => Buffer.from(EventMsg.encode(event(seq)).finish());

  it('applies every event of a batch once when one in the middle is not plain (the generated decoder takes the rest)', async () => {
    const core = await open();
    core.agentConnected(1, helloOf());
    const unusual = Buffer.concat([encoded(3n), Buffer.from([0x90, 0x03, 0x01])]); // unknown field 50
    expect(core.ingestBatchFrame(1, frameOf([encoded(1n), encoded(2n), unusual, encoded(4n)]))).to.equal(4);
    const s = core.stats();
    expect(s.events).to.equal(4);
    expect(s.assembler.eventsApplied).to.equal(4);
    // Four drop reports of one event each, and no sequence gap or repeat.
    expect(s.assembler.droppedEventsReported).to.equal(4);
    expect(s.assembler.seqGapEvents).to.equal(0);
    await core.close();
  });

  it('keeps the whole events before the damage in a batch, and reports the frame', async () => {
    const core = await open();
    core.agentConnected(1, helloOf());
    const damaged = Buffer.from([0x08, ...Array<number>(10).fill(0xff), 0x01]); // seq: an 11-byte varint
    const outcome = core.ingestBatchFrame(1, frameOf([encoded(1n), encoded(2n), damaged, encoded(4n)]));
    expect(outcome).to.be.a('string').and.match(/does not decode: .*the 2 events before the damage were applied/);
    expect(core.stats().assembler.eventsApplied).to.equal(2);
    await core.close();
  });

  it('counts, and does not apply, the events of a batch from a link with no hello', async () => {
    const core = await open();
    expect(core.ingestBatchFrame(9, frameOf([encoded(1n), encoded(2n)]))).to.equal(2);
    const s = core.stats();
    expect(s.events).to.equal(2);
    expect(s.assembler.rejectedEvents).to.equal(2);
    expect(s.assembler.eventsApplied).to.equal(0);
    await core.close();
  });
});
