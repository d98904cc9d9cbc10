import { expect } from 'chai';
import { AddressFamily, AgentMessage, Event, type Address } from '../../src/generated/koala/v1/agent.pb.js';
import { decodeBatchEvents, forEachBatchEvent } from '../../src/ingest/batch-decoder.js';
import { hello, varint } from './fake-sink.js';

/** mulberry32: the same cases on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomEvents(rnd: () => number, n: number): Event[] {
  const int = (max: number) => Math.floor(rnd() * max);
  const u64 = (): bigint => {
    const r = rnd();
    if (r < 0.3) return 0n;
    if (r < 0.6) return BigInt(int(1000));
    if (r < 0.8) return BigInt(int(2 ** 31)) * BigInt(int(2 ** 31)) + BigInt(int(2 ** 31)); // beyond 32 bits
    return (1n << 64n) - 1n - BigInt(int(1000)); // the top of the range
  };
  const i64 = (): bigint => (rnd() < 0.3 ? -BigInt(int(2 ** 40) + 1) : BigInt.asIntN(64, u64()));
  const i32 = (): number => (rnd() < 0.2 ? -int(2 ** 31) : int(2 ** 31)); // negatives are 10-byte varints
  const bytes = (max: number): Buffer => Buffer.from(Array.from({ length: int(max) }, () => int(256)));
  const address = (): Address | undefined =>
    rnd() < 0.5
      ? undefined
      : {
          family: int(4) as AddressFamily,
          ip: rnd() < 0.5 ? bytes(17) : Buffer.alloc(0),
          port: int(65536),
          path: rnd() < 0.2 ? `/run/sock-${int(100)}-é€😀` : '',
        };
  return Array.from({ length: n }, () => ({
    seq: u64(), tsNs: u64(), tid: i64(), vtid: i64(), kind: i32(), connId: u64(), fd: i32(), socketType: i32(),
    local: address(), peer: address(), originalDst: address(), payload: rnd() < 0.3 ? Buffer.alloc(0) : bytes(300),
    payloadLen: u64(), flags: i64(), droppedEvents: u64(), droppedBytes: u64(), parentTid: i64(), listenConnId: u64(), errno: i32(),
  }));
}

const encodeBatch = (events: Event[]): Buffer => Buffer.from(AgentMessage.encode({ body: { $case: 'batch', value: { events } } }).finish());

/** What the generated decoder makes of a frame: its events, or the error it throws. */
function generated(frame: Uint8Array): Event[] | Error | 'not a batch' {
  try {
    const m = AgentMessage.decode(frame);
    return m.body?.$case === 'batch' ? m.body.value.events : 'not a batch';
  } catch (err) {
    return err as Error;
  }
}

describe('decodeBatchEvents', () => {
  it('gives exactly what the generated decoder gives, on 300 random batches', () => {
    const rnd = prng(1);
    for (let i = 0; i < 300; i++) {
      const frame = encodeBatch(randomEvents(rnd, 1 + Math.floor(rnd() * 20)));
      const hand = decodeBatchEvents(frame);
      expect(hand, `batch ${i} took the hand-written path`).to.not.equal(undefined);
      expect(hand).to.deep.equal(generated(frame));
    }
  });

  it('decodes an empty batch and a batch of default-valued events', () => {
    expect(decodeBatchEvents(encodeBatch([]))).to.deep.equal([]);
    const frame = encodeBatch(randomEvents(prng(2), 3).map((e) => ({ ...e, payload: Buffer.alloc(0), local: undefined, peer: undefined, originalDst: undefined, seq: 0n, tsNs: 0n })));
    expect(decodeBatchEvents(frame)).to.deep.equal(generated(frame));
  });

  it('copies payloads: the batch buffer can be reused once decoded', () => {
    const frame = encodeBatch([{ ...randomEvents(prng(3), 1)[0]!, payload: Buffer.from('hello') }]);
    const events = decodeBatchEvents(frame)!;
    frame.fill(0);
    expect(events[0]!.payload.toString()).to.equal('hello');
  });

  it('leaves to the generated decoder what is not a plain batch', () => {
    const one = encodeBatch(randomEvents(prng(4), 2));
    const unknownField = Buffer.concat([one, Buffer.from([0x18, 0x01])]); // AgentMessage field 3
    const cases: Record<string, Buffer> = {
      hello: Buffer.from(AgentMessage.encode(hello(7)).finish()),
      'two batch fields (protobuf would merge them, the generated decoder keeps the last)': Buffer.concat([one, one]),
      'an unknown field after the batch': unknownField,
      empty: Buffer.alloc(0),
    };
    // An event with an unknown field (50, varint), and one with a known field of the wrong wire
    // type (seq as fixed32): each wrapped as AgentMessage{batch: EventBatch{events: [it]}}.
    const event = Buffer.from(Event.encode(randomEvents(prng(5), 1)[0]!).finish());
    for (const [name, extra] of [['an unknown event field', [0x90, 0x03, 0x01]], ['a known field with the wrong wire type', [0x0d, 1, 2, 3, 4]]] as const) {
      const inner = Buffer.concat([event, Buffer.from(extra)]);
      const batch = Buffer.concat([Buffer.from([0x0a]), varint(inner.length), inner]);
      cases[name] = Buffer.concat([Buffer.from([0x12]), varint(batch.length), batch]);
    }
    for (const [name, frame] of Object.entries(cases)) expect(decodeBatchEvents(frame), name).to.equal(undefined);
    // Where the generated decoder accepts them, it finds the unknown fields' events all the same.
    expect(generated(cases['an unknown event field']!)).to.be.an('array').with.length(1);
  });

  it('never disagrees with the generated decoder on truncated or corrupted batches', () => {
    const rnd = prng(6);
    let handled = 0;
    for (let i = 0; i < 2000; i++) {
      const frame = encodeBatch(randomEvents(rnd, 1 + Math.floor(rnd() * 4)));
      const bad = Buffer.from(frame);
      if (rnd() < 0.5) {
        const cut = Math.floor(rnd() * frame.length);
        const hand = decodeBatchEvents(bad.subarray(0, cut));
        if (hand !== undefined) expect(hand, `cut at ${cut}`).to.deep.equal(generated(bad.subarray(0, cut)));
        continue;
      }
      for (let k = 0; k < 3; k++) bad[Math.floor(rnd() * bad.length)] = Math.floor(rnd() * 256);
      const hand = decodeBatchEvents(bad);
      if (hand === undefined) continue;
      handled++;
      expect(hand, `corrupted batch ${i}`).to.deep.equal(generated(bad));
    }
    // Some corruptions still read as plain batches (a changed payload byte): those were compared.
    expect(handled).to.be.greaterThan(100);
  });
});

describe('forEachBatchEvent', () => {
  it('hands over the events of a plain batch one by one, in order, as the generated decoder reads them', () => {
    const rnd = prng(7);
    for (let i = 0; i < 100; i++) {
      const frame = encodeBatch(randomEvents(rnd, Math.floor(rnd() * 20)));
      const got: Event[] = [];
      const progress = forEachBatchEvent(frame, (e) => got.push(e));
      expect(progress).to.deep.equal({ applied: got.length, complete: true });
      expect(got).to.deep.equal(generated(frame));
    }
  });

  it('stops before an event that is not plain: those before it are applied, and are the generated decoder\'s first ones', () => {
    const good = encodeBatch(randomEvents(prng(8), 5));
    const bad = Buffer.from(Event.encode(randomEvents(prng(9), 1)[0]!).finish());
    const inner = Buffer.concat([bad, Buffer.from([0x90, 0x03, 0x01])]); // unknown field 50
    const after = Buffer.from(Event.encode(randomEvents(prng(11), 1)[0]!).finish());
    const events = Buffer.concat([
      good.subarray(1 + varint(good.length - 1).length),
      Buffer.from([0x0a]), varint(inner.length), inner,
      Buffer.from([0x0a]), varint(after.length), after,
    ]);
    const frame = Buffer.concat([Buffer.from([0x12]), varint(events.length), events]);
    const all = generated(frame);
    expect(all).to.be.an('array').with.length(7);
    const got: Event[] = [];
    expect(forEachBatchEvent(frame, (e) => got.push(e))).to.deep.equal({ applied: 5, complete: false });
    expect(got).to.deep.equal((all as Event[]).slice(0, 5));
  });

  it('on a truncated or corrupted batch, applies only what the generated decoder reads the same, and never claims a batch it refuses', () => {
    const rnd = prng(10);
    let complete = 0;
    let partial = 0;
    for (let i = 0; i < 2000; i++) {
      const bad = encodeBatch(randomEvents(rnd, 1 + Math.floor(rnd() * 4)));
      for (let k = 0; k < 3; k++) bad[Math.floor(rnd() * bad.length)] = Math.floor(rnd() * 256);
      const frame = rnd() < 0.5 ? bad.subarray(0, Math.floor(rnd() * bad.length)) : bad;
      const got: Event[] = [];
      const progress = forEachBatchEvent(frame, (e) => got.push(e));
      expect(got, `batch ${i}`).to.have.length(progress.applied);
      const gen = generated(frame);
      if (progress.complete) {
        complete++;
        expect(got, `batch ${i}`).to.deep.equal(gen);
      } else if (Array.isArray(gen)) {
        partial++;
        expect(got, `batch ${i}`).to.deep.equal(gen.slice(0, progress.applied));
      }
    }
    expect(complete).to.be.greaterThan(100);
    expect(partial).to.be.greaterThan(10);
  });
});
