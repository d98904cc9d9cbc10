import { expect } from 'chai';
import { Logger } from '../../src/log/logger.js';
import { AssemblyCore } from '../../src/gateway/assembly-core.js';
import { EventKind, Event as EventMsg } from '../../src/generated/koala/v1/agent.pb.js';
import { hello } from '../ingest/fake-sink.js';

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
