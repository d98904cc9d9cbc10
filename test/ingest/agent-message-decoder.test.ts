import { expect } from 'chai';
import { AgentMessage, type Address, type Event } from '../../src/generated/koala/v1/agent.pb.js';
import { decodeAgentMessageBytes } from '../../src/ingest/agent-message-decoder.js';
import { hello } from './fake-sink.js';

/** A deterministic PRNG so a failure replays. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const U64 = [0n, 1n, 127n, 128n, 16383n, 16384n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n + 1n, 1_764_000_000_123_456_789n, 2n ** 64n - 1n];
const I64 = [0n, 1n, -1n, 42n, -(2n ** 31n), 2n ** 35n, -(2n ** 63n), 2n ** 63n - 1n];
const I32 = [0, 1, -1, 3, 127, 128, 2 ** 31 - 1, -(2 ** 31)];

function randomAddress(r: () => number): Address | undefined {
  const k = Math.floor(r() * 4);
  if (k === 0) return undefined;
  return {
    family: k,
    ip: Buffer.from(k === 2 ? Array.from({ length: 16 }, (_, i) => i * 13) : k === 1 ? [127, 0, 0, Math.floor(r() * 256)] : []),
    port: Math.floor(r() * 65536) * (r() < 0.1 ? 65536 : 1) >>> 0,
    path: k === 3 ? (r() < 0.5 ? '@abstract' : '/tmp/sock-\u00e9\ufeff') : '',
  };
}

function randomEvent(r: () => number): Event {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const len = pick([0, 0, 1, 5, 200, 70_000]);
  return {
    seq: pick(U64),
    tsNs: pick(U64),
    tid: pick(I64),
    vtid: pick(I64),
    kind: Math.floor(r() * 11),
    connId: pick(U64),
    fd: pick(I32),
    socketType: Math.floor(r() * 3),
    local: randomAddress(r),
    peer: randomAddress(r),
    originalDst: randomAddress(r),
    payload: Buffer.alloc(len, `p${len}`),
    payloadLen: pick(U64),
    flags: pick(I64),
    droppedEvents: pick(U64),
    droppedBytes: pick(U64),
    parentTid: pick(I64),
    listenConnId: pick(U64),
    errno: pick(I32),
  };
}

function batchBytes(events: Event[]): Uint8Array {
  return AgentMessage.encode({ body: { $case: 'batch', value: { events } } }).finish();
}

/** Both decoders return equal messages, or both throw. */
function expectSame(bytes: Uint8Array, what: string): void {
  let want: AgentMessage | Error;
  try {
    want = AgentMessage.decode(bytes);
  } catch (err) {
    want = err as Error;
  }
  if (want instanceof Error) {
    expect(() => decodeAgentMessageBytes(bytes), what).to.throw();
  } else {
    expect(decodeAgentMessageBytes(bytes), what).to.deep.equal(want);
  }
}

describe('decodeAgentMessageBytes', () => {
  it('decodes batches exactly as the generated decoder does', () => {
    const r = rng(1);
    for (let i = 0; i < 300; i++) {
      const events = Array.from({ length: Math.floor(r() * 6) }, () => randomEvent(r));
      const bytes = batchBytes(events);
      const got = decodeAgentMessageBytes(bytes);
      expect(got, `batch ${i}`).to.deep.equal(AgentMessage.decode(bytes));
      if (got.body?.$case === 'batch') expect(got.body.value.events).to.deep.equal(events);
    }
  });

  it('copies payloads: events do not alias the frame', () => {
    const r = rng(2);
    const ev = { ...randomEvent(r), payload: Buffer.from('hello') };
    const bytes = Buffer.from(batchBytes([ev]));
    const got = decodeAgentMessageBytes(bytes);
    bytes.fill(0);
    expect(got.body?.$case === 'batch' && got.body.value.events[0]?.payload.toString()).to.equal('hello');
  });

  it('decodes hellos, empty messages and empty batches like the generated decoder', () => {
    expectSame(AgentMessage.encode(hello(7)).finish(), 'hello');
    expectSame(new Uint8Array(0), 'empty');
    expectSame(batchBytes([]), 'empty batch');
  });

  it('agrees with the generated decoder on truncated and corrupted input', () => {
    const r = rng(3);
    for (let i = 0; i < 40; i++) {
      const bytes = batchBytes(Array.from({ length: 1 + Math.floor(r() * 3) }, () => ({ ...randomEvent(r), payload: Buffer.from('abc') })));
      for (let cut = 0; cut < bytes.length; cut += 1 + Math.floor(r() * 3)) expectSame(bytes.subarray(0, cut), `batch ${i} cut at ${cut}`);
      for (let k = 0; k < 30; k++) {
        const bad = Buffer.from(bytes);
        bad[Math.floor(r() * bad.length)] = Math.floor(r() * 256);
        expectSame(bad, `batch ${i} corrupted (${k})`);
      }
    }
  });

  it('agrees on unknown fields, wrong wire types and repeated fields', () => {
    const ev = batchBytes([{ ...randomEvent(rng(4)), payload: Buffer.from('x') }]);
    // An unknown varint field (50) inside the batch message, then the events.
    expectSame(Buffer.concat([Buffer.from([0x12, ev.length - 2 + 3]), Buffer.from([0x90, 0x03, 0x01]), ev.subarray(2)]), 'unknown field in batch');
    // Two batches in one message: the last one wins.
    expectSame(Buffer.concat([ev, batchBytes([])]), 'two batches');
    expectSame(Buffer.concat([batchBytes([]), ev]), 'two batches, first empty');
    // Event field 1 (seq) sent length-delimited.
    expectSame(Buffer.from([0x12, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0x41]), 'seq with a wrong wire type');
    // A zero tag inside an event.
    expectSame(Buffer.from([0x12, 0x04, 0x0a, 0x02, 0x08, 0x00]), 'seq 0');
    expectSame(Buffer.from([0x12, 0x04, 0x0a, 0x02, 0x00, 0x00]), 'tag 0');
  });
});
