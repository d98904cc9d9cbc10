import { expect } from 'chai';
import { connect, createServer, type Socket } from 'node:net';
import { RespFramer } from '../../../src/replay/framing/resp-framer.js';
import { RawFramer, type FrameVerdict, type Framer } from '../../../src/replay/framing/framer.js';
import { Http1ResponseFramer } from '../../../src/replay/framing/http1-framer.js';
import { MessageReader } from '../../../src/replay/framing/message-reader.js';

/** Counts how often the reader asks the framer. */
function counted(inner: Framer): Framer & { calls: number } {
  return {
    protocol: inner.protocol,
    calls: 0,
    frame(buf: Buffer): FrameVerdict {
      this.calls += 1;
      return inner.frame(buf);
    },
    consumed: (buf, length) => inner.consumed(buf, length),
    countsAsMessage: (buf, length) => inner.countsAsMessage?.(buf, length) ?? true,
  };
}

/** Writes `bytes` in `piece`-byte writes, each after the previous one was flushed. */
async function writeInPieces(sock: Socket, bytes: Buffer, piece: number): Promise<void> {
  for (let at = 0; at < bytes.length; at += piece) {
    await new Promise<void>((r, j) => sock.write(bytes.subarray(at, at + piece), (e) => (e ? j(e) : r())));
  }
}

async function pair(): Promise<{ client: Socket; server: Socket; close: () => Promise<void> }> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  const accepted = new Promise<Socket>((r) => srv.once('connection', r));
  const client = connect({ port, host: '127.0.0.1' });
  const server = await accepted;
  return { client, server, close: async () => { client.destroy(); server.destroy(); await new Promise((r) => srv.close(r)); } };
}

describe('MessageReader', () => {
  it('returns a complete message at once, never waiting for the idle gap', async () => {
    const p = await pair();
    try {
      const reader = new MessageReader(p.server);
      p.client.write('*1\r\n$4\r\nPI');
      setTimeout(() => p.client.write('NG\r\n*1\r\n$4\r\nPING\r\n'), 50);
      const r = await reader.read({ framer: new RespFramer(), idleMs: 5000 });
      expect(r).to.deep.include({ end: 'framed', count: 2 });
      expect(r.elapsedMs).to.be.lessThan(1000);
    } finally {
      await p.close();
    }
  });

  it('keeps bytes after the expected messages for the next read', async () => {
    const p = await pair();
    try {
      const reader = new MessageReader(p.server);
      p.client.write('+OK\r\n+NEXT\r\n');
      const first = await reader.read({ framer: new RespFramer(), expected: 1, idleMs: 5000 });
      expect(first.bytes.toString()).to.equal('+OK\r\n');
      const second = await reader.read({ framer: new RespFramer(), expected: 1, idleMs: 5000 });
      expect(second.bytes.toString()).to.equal('+NEXT\r\n');
    } finally {
      await p.close();
    }
  });

  it('ends unframeable bytes by the idle gap, and reports a first-byte timeout', async () => {
    const p = await pair();
    try {
      const reader = new MessageReader(p.server);
      const none = await reader.read({ framer: new RawFramer(), idleMs: 50, firstByteTimeoutMs: 80 });
      expect(none).to.deep.include({ end: 'timeout' });
      p.client.write('abc');
      const r = await reader.read({ framer: new RawFramer(), idleMs: 80 });
      expect(r.end).to.equal('idle');
      expect(r.bytes.toString()).to.equal('abc');
      expect(r.elapsedMs).to.be.at.least(70);
    } finally {
      await p.close();
    }
  });

  it('does not re-frame a message of known length until all of it is there', async () => {
    const p = await pair();
    try {
      const reader = new MessageReader(p.server);
      const body = Buffer.alloc(4 * 1024 * 1024, 0x61);
      const head = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
      const framer = counted(new Http1ResponseFramer());
      const next = Buffer.from('HTTP/1.1 204 No Content\r\n\r\n');
      const read = reader.read({ framer, expected: 1, idleMs: 5000 });
      await writeInPieces(p.client, Buffer.concat([head, body, next]), 16 * 1024);
      const r = await read;
      expect(r).to.deep.include({ end: 'framed', count: 1 });
      expect(r.bytes.equals(Buffer.concat([head, body]))).to.equal(true);
      // The head, then (at most a few times while the head is split) once the body is complete.
      expect(framer.calls).to.be.at.most(4);
      const second = await reader.read({ framer: new Http1ResponseFramer(), expected: 1, idleMs: 5000 });
      expect(second.bytes.toString()).to.equal(next.toString());
    } finally {
      await p.close();
    }
  });

  it('joins a chunked body arriving in many small writes, keeping the bytes after it', async () => {
    const p = await pair();
    try {
      const reader = new MessageReader(p.server);
      const parts: Buffer[] = [Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')];
      for (let i = 0; i < 300; i++) {
        const data = Buffer.alloc(97 + (i % 50), 0x30 + (i % 10));
        parts.push(Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n'));
      }
      parts.push(Buffer.from('0\r\n\r\n'));
      const message = Buffer.concat(parts);
      const next = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      const read = reader.read({ framer: new Http1ResponseFramer(), expected: 1, idleMs: 5000 });
      await writeInPieces(p.client, Buffer.concat([message, next]), 333);
      const r = await read;
      expect(r).to.deep.include({ end: 'framed', count: 1 });
      expect(r.bytes.equals(message)).to.equal(true);
      const second = await reader.read({ framer: new Http1ResponseFramer(), expected: 1, idleMs: 5000 });
      expect(second.bytes.toString()).to.equal(next.toString());
      expect(second.end).to.equal('framed');
    } finally {
      await p.close();
    }
  });
});
