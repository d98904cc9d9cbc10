import { expect } from 'chai';
import { AddressFamily } from '../../src/generated/koala/v1/agent.pb.js';
import { Transport, type Session, type Talk } from '../../src/generated/koala/v1/session.pb.js';
import { decodeSessionLine } from '../../src/store/session-codec.js';
import { encodeSessionLine, encodeSessionLineAt, encodeSessionLineBytes } from '../../src/store/session-line-encoder.js';
import { referenceSessionLine } from './reference-session-line.js';
import { sampleSession, talk, v4 } from './sample-session.js';

/** Payloads that sit on every edge of the text/base64 rule. */
const payloads: [string, Buffer][] = [
  ['empty', Buffer.alloc(0)],
  ['http', Buffer.from('GET /a?b="c"&d=\\e HTTP/1.1\r\nHost: x\r\n\t\r\n')],
  ['every printable ascii', Buffer.from(Array.from({ length: 95 }, (_, i) => 0x20 + i))],
  ['each escaped char alone', Buffer.from('"')],
  ['backslash', Buffer.from('\\')],
  ['unicode', Buffer.from('héllo ✓ 😀 ü\u2028\u2029\ufeff end')],
  ['utf8 BOM', Buffer.from([0xef, 0xbb, 0xbf, 0x68, 0x69])],
  ['C1 control', Buffer.from('a\u0085b')],
  ['U+00A0 (after C1)', Buffer.from('a\u00a0b')],
  ['U+009F', Buffer.from('\u009f')],
  ['DEL', Buffer.from('a\u007fb')],
  ['NUL', Buffer.from([0x61, 0x00])],
  ['ESC', Buffer.from([0x1b, 0x5b])],
  ['form feed', Buffer.from('\f')],
  ['invalid utf8', Buffer.from([0x68, 0xc3, 0x28])],
  ['lone continuation', Buffer.from([0x80])],
  ['overlong', Buffer.from([0xc0, 0xaf])],
  ['surrogate half in utf8', Buffer.from([0xed, 0xa0, 0x80])],
  ['truncated 4-byte', Buffer.from([0xf0, 0x9f, 0x98])],
  // The UTF-8 check starts where the ASCII scan stopped: problems past that point, and a prefix
  // that ends right before a multi-byte character.
  ['ascii, then text, then a control', Buffer.from('GET /é ok\u0001')],
  ['ascii, then a truncated character', Buffer.from([0x61, 0x62, 0xe2, 0x9c])],
  ['ascii, then C1 after text', Buffer.from('ab ü \u0085')],
  ['ascii, then text', Buffer.from('ab\r\nü✓ "q"')],
  ['binary 1', Buffer.from([0xff])],
  ['binary 2', Buffer.from([0xff, 0x00])],
  ['binary 3', Buffer.from([0x00, 0x01, 0x02])],
  ['mysql greeting', Buffer.from('5b0000000a352e352e352d31302e31312e31392d4d617269614442000b000000', 'hex')],
  ['large binary', Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31 + 7) & 0xff))],
  ['large text', Buffer.from('line of text "quoted" \\ \r\n'.repeat(5000))],
  ['large unicode', Buffer.from('ü✓\n'.repeat(3000))],
  ['a Uint8Array, not a Buffer', Buffer.from('x')],
];

function sessionWith(request: Buffer, response: Buffer, over: Partial<Session> = {}): Session {
  return sampleSession({ talks: [talk(0, request, response), talk(1, response, request)], ...over });
}

function expectSame(s: Session): void {
  const ref = referenceSessionLine(s);
  expect(encodeSessionLine(s)).to.equal(ref);
  expect(encodeSessionLineBytes(s, true).equals(Buffer.from(ref + '\n', 'utf8'))).to.equal(true);
}

describe('session line encoder', () => {
  for (const [name, bytes] of payloads) {
    it(`writes what JSON.stringify of the documented object writes: ${name}`, () => {
      const asU8 = name.startsWith('a Uint8Array') ? new Uint8Array(bytes) : bytes;
      const s = sessionWith(asU8 as Buffer, bytes);
      s.inbound!.request = asU8 as Buffer;
      expectSame(s);
      const back = decodeSessionLine(encodeSessionLine(s));
      expect(Buffer.from(back.talks[0]!.request).equals(bytes)).to.equal(true);
      expect(Buffer.from(back.inbound!.request).equals(bytes)).to.equal(true);
    });
  }

  it('matches on odd fields: truncation, unknown enums, strings needing escapes, odd addresses, absent parts', () => {
    const s = sessionWith(Buffer.from('a'), Buffer.from('b'), {
      id: 'id "with" \\ quotes\n',
      sut: 'sü✓t',
      hostname: 'h\u0001\u2028',
      replayOf: 'x\ud800y',
      agent: 99 as Session['agent'],
      endReason: 42 as Session['endReason'],
      completeness: { droppedEvents: 3n, truncatedBytes: 1n << 62n, seqGaps: 0n, notes: ['a "note"', 'ünïcode', 'ctl \u0007'] },
    });
    s.talks[0]!.requestLen = 1_000_000n; // truncated
    s.talks[0]!.oneWay = true;
    s.talks[0]!.transport = 77 as Transport;
    s.talks[0]!.local = { family: AddressFamily.ADDRESS_FAMILY_INET, ip: Buffer.from([1, 2, 3]), port: 0, path: '' };
    s.talks[1]!.peer = { family: AddressFamily.ADDRESS_FAMILY_UNIX, ip: Buffer.alloc(0), port: 0, path: '@abstract "x"' };
    s.talks[1]!.local = { family: AddressFamily.ADDRESS_FAMILY_INET6, ip: Buffer.from('00000000000000000000ffff0a000001', 'hex'), port: 443, path: '' };
    s.talks[1]!.tid = -5n;
    expectSame(s);
    expectSame({ ...s, inbound: undefined, completeness: undefined, talks: [], preludes: [] });
  });

  it('matches on integers at the edges: 0, negative, 32 bits, around 2^53, 64-bit extremes and past them', () => {
    const edges = [0n, -1n, 9n, 10n, 99n, 100n, (1n << 53n) - 1n, 1n << 53n, -(1n << 53n) + 1n, -(1n << 53n), (1n << 64n) - 1n, -(1n << 63n),
      0x7fffffffn, 0x80000000n, (1n << 32n) - 1n, 1n << 32n, 10n ** 19n, 1n << 64n, 1n << 70n, -(1n << 70n)];
    for (const v of edges) {
      const s = sessionWith(Buffer.from('a'), Buffer.from('b'), { vtid: v, startedNs: v, pid: Number(BigInt.asIntN(32, v)) });
      s.talks[0]!.tid = v;
      s.talks[0]!.requestNs = v;
      s.talks[0]!.index = Number(v % 1000n);
      expectSame(s);
    }
  });

  it('matches on random 64-bit integers (timestamps are written without toString) and random payloads', () => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const u32 = (): bigint => BigInt(rand(2 ** 16) * 2 ** 16 + rand(2 ** 16));
    // Pieces that push the scan through each path: plain ASCII, escapes, multi-byte text, C1, controls.
    const pieces = ['GET / HTTP/1.1\r\n', '"', '\\', '\t', 'é', '✓', '😀', '\u0085', '\u0001', 'x'.repeat(40)].map((t) => Buffer.from(t));
    for (let i = 0; i < 300; i++) {
      const big = (u32() << 32n) | u32();
      const v = i % 3 === 0 ? big : i % 3 === 1 ? big >> BigInt(rand(64)) : 10n ** BigInt(rand(20)) + BigInt(rand(3)) - 1n;
      const payload = Buffer.concat(Array.from({ length: rand(6) }, () => pieces[rand(pieces.length)]!));
      const s = sessionWith(payload, Buffer.from([rand(256), rand(256)]), { startedNs: v, endedNs: v + 1n });
      s.talks[0]!.requestNs = v;
      expectSame(s);
    }
  });

  it('writes the store form into a target buffer where it fits, and hands it out whole where it does not', () => {
    const s = sessionWith(Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.from([0, 1, 2]));
    const ref = Buffer.from(referenceSessionLine(s) + '\n', 'utf8');
    // Writes reserve room before they know their exact length, so a line needs some to spare.
    const target = Buffer.alloc(ref.length + 200, 0x2a);
    const fits = encodeSessionLineAt(s, target, 7);
    expect(fits).to.deep.equal({ inTarget: true, length: ref.length });
    expect(target.subarray(7, 7 + ref.length).equals(ref)).to.equal(true);
    expect(target.subarray(0, 7).equals(Buffer.alloc(7, 0x2a))).to.equal(true);
    // Room for half the line: it moves to the scratch buffer part-way and comes back whole.
    for (const at of [target.length - (ref.length >> 1), target.length - 1, target.length]) {
      const moved = encodeSessionLineAt(s, target, at);
      if (moved.inTarget) expect.fail(`a line of ${ref.length} bytes cannot fit at ${at} of ${target.length}`);
      expect(moved.line.equals(ref)).to.equal(true);
    }
    // And the writer's other form is not disturbed by a line left in a target.
    expect(encodeSessionLineBytes(s, true).equals(ref)).to.equal(true);
  });

  it('caches a prelude talk built while its line moved out of the target, with the right bytes', () => {
    const shared: Talk = talk(0, Buffer.alloc(0), Buffer.from('greeting '.repeat(50)));
    shared.peer = v4([10, 0, 0, 7], 3306);
    const withPrelude = (id: string): Session =>
      sampleSession({ id, preludes: [{ connId: 7n, transport: Transport.TRANSPORT_TCP, peer: shared.peer, serverFirst: true, talks: [shared] }] });
    const a = withPrelude('a');
    const refA = Buffer.from(referenceSessionLine(a) + '\n', 'utf8');
    // The target ends inside the prelude talk, so its bytes are built across the move.
    const target = Buffer.alloc(refA.length - 200);
    const placed = encodeSessionLineAt(a, target, 0);
    if (placed.inTarget) expect.fail('the line should not have fit');
    expect(placed.line.equals(refA)).to.equal(true);
    expectSame(withPrelude('b')); // from the cached bytes
  });

  it('reuses a shared prelude talk and address, but never a stale one', () => {
    const shared: Talk = talk(0, Buffer.alloc(0), Buffer.from([0x0a, 0x35, 0x00]));
    const peer = v4([10, 0, 0, 9], 3306);
    shared.peer = peer;
    const prelude = () => ({ connId: 9n, transport: Transport.TRANSPORT_TCP, peer, serverFirst: true, talks: [shared] });
    const a = sampleSession({ id: 'a', preludes: [prelude()] });
    const b = sampleSession({ id: 'b', preludes: [prelude()] });
    expectSame(a);
    expectSame(b);
    shared.response = Buffer.from('changed');
    shared.responseLen = 7n;
    expectSame(b);
    peer.port = 3307;
    expectSame(a);
  });

  it('matches on the docs example line', async () => {
    const { readFile } = await import('node:fs/promises');
    const doc = await readFile(new URL('../../docs/session-format.md', import.meta.url), 'utf8');
    const line = /```json\n(.*)\n```/.exec(doc)![1]!;
    expectSame(decodeSessionLine(line));
  });
});
