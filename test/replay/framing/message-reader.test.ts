import { expect } from 'chai';
import { connect, createServer, type Socket } from 'node:net';
import { RespFramer } from '../../../src/replay/framing/resp-framer.js';
import { RawFramer } from '../../../src/replay/framing/framer.js';
import { MessageReader } from '../../../src/replay/framing/message-reader.js';

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
});
