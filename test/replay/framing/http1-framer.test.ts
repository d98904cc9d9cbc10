import { expect } from 'chai';
import { takeMessages } from '../../../src/replay/framing/framer.js';
import { Http1RequestFramer, Http1ResponseFramer } from '../../../src/replay/framing/http1-framer.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('Http1RequestFramer', () => {
  it('frames a GET without body at the blank line and waits before it', () => {
    const f = new Http1RequestFramer();
    expect(f.frame(b('GET / HTTP/1.1\r\nHost: x\r\n'))).to.deep.equal({ status: 'incomplete' });
    const req = b('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(f.frame(req)).to.deep.equal({ status: 'complete', length: req.length });
  });

  it('waits for the Content-Length body', () => {
    const f = new Http1RequestFramer();
    const req = b('POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello');
    expect(f.frame(req.subarray(0, req.length - 1)).status).to.equal('incomplete');
    expect(f.frame(req)).to.deep.equal({ status: 'complete', length: req.length });
  });

  it('frames a chunked body with trailers', () => {
    const f = new Http1RequestFramer();
    const req = b('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n');
    expect(f.frame(req.subarray(0, req.length - 2)).status).to.equal('incomplete');
    expect(f.frame(req)).to.deep.equal({ status: 'complete', length: req.length });
  });

  it('counts pipelined requests and leaves a partial one pending', () => {
    const one = 'GET /a HTTP/1.1\r\n\r\n';
    const two = 'POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nok';
    const all = b(one + two + 'GET /c HT');
    const taken = takeMessages(new Http1RequestFramer(), all);
    expect(taken.count).to.equal(2);
    expect(taken.length).to.equal(one.length + two.length);
    expect(taken.rest.status).to.equal('incomplete');
  });

  it('treats an Expect: 100-continue head as a message, then the body as the next', () => {
    const f = new Http1RequestFramer();
    const head = b('PUT /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n');
    const first = takeMessages(f, head);
    expect(first).to.deep.include({ count: 1, length: head.length });
    expect(f.frame(b('da'))).to.deep.equal({ status: 'incomplete', need: 4 });
    expect(f.frame(b('data'))).to.deep.equal({ status: 'complete', length: 4 });
  });

  it('says invalid for bytes that are not HTTP', () => {
    expect(new Http1RequestFramer().frame(b('*1\r\n$4\r\nPING\r\n')).status).to.equal('invalid');
  });
});

describe('Http1ResponseFramer', () => {
  it('knows a response to HEAD has no body despite Content-Length', () => {
    const res = b('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n');
    expect(new Http1ResponseFramer(['HEAD']).frame(res)).to.deep.equal({ status: 'complete', length: res.length });
    expect(new Http1ResponseFramer(['GET']).frame(res).status).to.equal('incomplete');
  });

  it('says how many bytes an incomplete body needs when the length is known', () => {
    const head = 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n';
    expect(new Http1ResponseFramer().frame(b(`${head}abc`))).to.deep.equal({ status: 'incomplete', need: head.length + 100 });
    expect(new Http1ResponseFramer().frame(b('HTTP/1.1 200 OK\r\nContent-Len'))).to.deep.equal({ status: 'incomplete' });
    const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
    // In a chunk: its end; in a size line or the last chunk: unknown.
    expect(new Http1ResponseFramer().frame(b(`${chunked}3\r\nabc\r\nA\r\n01`))).to.deep.equal({ status: 'incomplete', need: chunked.length + 8 + 3 + 10 + 2 });
    expect(new Http1ResponseFramer().frame(b(`${chunked}3\r\nabc\r\n1`))).to.deep.equal({ status: 'incomplete' });
    expect(new Http1ResponseFramer().frame(b(`${chunked}0\r\nX-T: 1\r\n`))).to.deep.equal({ status: 'incomplete' });
    expect(new Http1ResponseFramer().frame(b(`${chunked}3 ; ext\r\nabc\r\n0\r\n\r\n`))).to.deep.equal({ status: 'complete', length: chunked.length + 19 });
    expect(new Http1ResponseFramer().frame(b(`${chunked}3x\r\nabc\r\n0\r\n\r\n`)).status).to.equal('invalid');
  });

  it('frames 204 and 304 without body and a length-less 200 until close', () => {
    const r204 = b('HTTP/1.1 204 No Content\r\n\r\n');
    expect(new Http1ResponseFramer().frame(r204)).to.deep.equal({ status: 'complete', length: r204.length });
    expect(new Http1ResponseFramer().frame(b('HTTP/1.0 200 OK\r\n\r\nabc')).status).to.equal('until-close');
  });

  it('does not count a 100 Continue interim response', () => {
    const bytes = b('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    const taken = takeMessages(new Http1ResponseFramer(['PUT']), bytes);
    expect(taken).to.deep.include({ count: 1, length: bytes.length });
  });
});

describe('chunked bodies arriving a chunk at a time', () => {
  const head = b('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
  /** The message grown in one store, as MessageReader grows it: what was written stays put. */
  function grow(chunks: string[]): { store: Buffer; ends: number[] } {
    const whole = Buffer.concat([head, ...chunks.map((c) => b(`${c.length.toString(16)}\r\n${c}\r\n`)), b('0\r\n\r\n')]);
    const store = Buffer.alloc(whole.length);
    whole.copy(store);
    const ends: number[] = [];
    let pos = head.length;
    for (const c of chunks) ends.push((pos += c.length.toString(16).length + c.length + 4));
    ends.push(whole.length);
    return { store, ends };
  }

  it('frames each new chunk without going over the earlier ones again (work linear in their number)', () => {
    const n = 3000;
    const { store, ends } = grow(Array.from({ length: n }, (_, i) => 'x'.repeat(1 + (i % 5))));
    const f = new Http1ResponseFramer();
    const indexOf = Buffer.prototype.indexOf;
    let searches = 0;
    Buffer.prototype.indexOf = function (this: Buffer, ...args: Parameters<Buffer['indexOf']>) {
      searches++;
      return indexOf.apply(this, args);
    };
    try {
      for (const end of ends.slice(0, -1)) expect(f.frame(store.subarray(0, end)).status).to.equal('incomplete');
    } finally {
      Buffer.prototype.indexOf = indexOf;
    }
    // Each call: the head (two searches) and the chunk that just arrived (two). From the body's
    // start every time it would be about n * n / 2 = 4.5 million.
    expect(searches).to.be.below(6 * n);
    expect(f.frame(store)).to.deep.equal({ status: 'complete', length: store.length });
  });

  it('frames another message from its start, even with the same head', () => {
    const f = new Http1ResponseFramer();
    const a = grow(['hello', 'world', 'again']);
    expect(f.frame(a.store.subarray(0, a.ends[2])).status).to.equal('incomplete');
    // A different store (another message, or the reader's store after it grew): no resuming.
    // The position reached in `a` (past two chunks) falls inside this one's long first chunk,
    // so resuming there would misread its data as a size line.
    const other = grow(['x'.repeat(20)]);
    expect(f.frame(other.store)).to.deep.equal({ status: 'complete', length: other.store.length });
    // The same store further on: a message starting elsewhere is framed from its own start.
    const twice = Buffer.concat([a.store, other.store]);
    expect(f.frame(twice.subarray(0, a.ends[1]!)).status).to.equal('incomplete');
    expect(f.frame(twice.subarray(a.store.length))).to.deep.equal({ status: 'complete', length: other.store.length });
    // A malformed chunk after the resumed point is still caught.
    const bad = Buffer.concat([head, b('5\r\nhello\r\n'), b('zz\r\nxx\r\n')]);
    expect(f.frame(bad.subarray(0, head.length + 10)).status).to.equal('incomplete');
    expect(f.frame(bad)).to.deep.equal({ status: 'invalid', reason: 'bad chunk size line' });
  });

  it('starts over after a message is consumed', () => {
    const f = new Http1ResponseFramer(['GET', 'GET']);
    const a = grow(['abc', 'de']);
    const both = Buffer.concat([a.store, a.store]);
    const taken = takeMessages(f, both);
    expect(taken.count).to.equal(2);
    expect(taken.length).to.equal(both.length);
  });
});
