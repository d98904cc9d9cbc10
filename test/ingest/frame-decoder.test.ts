import { expect } from 'chai';
import { isKoalaError } from '../../src/errors.js';
import { AgentMessage } from '../../src/generated/koala/v1/agent.pb.js';
import { FrameDecoder, decodeAgentMessage, encodeAgentFrame, encodeFrame } from '../../src/ingest/frame-decoder.js';
import { batch, hello, sendEvent } from './fake-sink.js';

describe('FrameDecoder', () => {
  it('decodes a frame split at every byte boundary', () => {
    const frame = encodeAgentFrame(hello(42));
    for (let cut = 0; cut <= frame.length; cut++) {
      const d = new FrameDecoder(1024);
      const out = [...d.push(frame.subarray(0, cut)), ...d.push(frame.subarray(cut))];
      expect(out, `cut at ${cut}`).to.have.length(1);
      expect(decodeAgentMessage(out[0]!)).to.deep.equal(AgentMessage.decode(AgentMessage.encode(hello(42)).finish()));
      expect(d.pendingBytes).to.equal(0);
    }
  });

  it('returns thousands of tiny frames from one chunk, in order', () => {
    const frames = Array.from({ length: 5000 }, (_, i) => encodeAgentFrame(batch(sendEvent(i + 1))));
    const out = new FrameDecoder(1024).push(Buffer.concat(frames));
    expect(out).to.have.length(5000);
    const seqs = out.map((f) => {
      const m = decodeAgentMessage(f);
      return m.body?.$case === 'batch' ? Number(m.body.value.events[0]!.seq) : -1;
    });
    expect(seqs).to.deep.equal(Array.from({ length: 5000 }, (_, i) => i + 1));
  });

  it('reassembles a large frame fed in small chunks', () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    const frame = encodeFrame(big);
    const d = new FrameDecoder(4 * 1024 * 1024);
    const out: Buffer[] = [];
    for (let off = 0; off < frame.length; off += 65536) out.push(...d.push(frame.subarray(off, off + 65536)));
    expect(out).to.have.length(1);
    expect(out[0]!.equals(big)).to.equal(true);
  });

  it('keeps the tail of a partial frame pending', () => {
    const d = new FrameDecoder(1024);
    const frame = encodeAgentFrame(hello(1));
    expect(d.push(frame.subarray(0, 6))).to.have.length(0);
    expect(d.pendingBytes).to.equal(6);
  });

  it('rejects an oversized length prefix as soon as the header is complete', () => {
    const d = new FrameDecoder(1024);
    d.push(Buffer.from([0x00, 0x00]));
    try {
      d.push(Buffer.from([0x04, 0x01]));
      expect.fail('should throw');
    } catch (err) {
      expect(isKoalaError(err, 'KOALA_ERR_FRAME_TOO_LARGE')).to.equal(true);
    }
  });

  it('accepts a frame of exactly the limit', () => {
    const out = new FrameDecoder(10).push(encodeFrame(Buffer.alloc(10)));
    expect(out).to.have.length(1);
  });

  it('reports garbage bodies as KOALA_ERR_FRAME_MALFORMED', () => {
    for (const body of [Buffer.from([0xff, 0xff, 0xff]), Buffer.alloc(0), Buffer.from('GET / HTTP/1.1\r\n')]) {
      expect(() => decodeAgentMessage(body)).to.throw().that.satisfies((e: unknown) => isKoalaError(e, 'KOALA_ERR_FRAME_MALFORMED'));
    }
  });
});
