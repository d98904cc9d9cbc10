import { expect } from 'chai';
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { InboundDriver } from '../../../src/replay/inbound/inbound-driver.js';

/** A SUT that answers each connection with `respond`, recording whether bytes came after registration. */
async function sut(respond: (sock: Socket, req: Buffer) => Promise<void>): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.once('data', (d: Buffer) => void respond(sock, d).catch(() => sock.destroy()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return { server, port: addr.port, sockets };
}

async function stop(s: { server: Server; sockets: Set<Socket> }): Promise<void> {
  for (const sock of s.sockets) sock.destroy();
  await new Promise((r) => s.server.close(r));
}

describe('InboundDriver', () => {
  it('registers its local port before writing, and reads a slow keep-alive HTTP response by its length', async () => {
    const events: string[] = [];
    let peerPort = 0;
    const s = await sut(async (sock, req) => {
      events.push(`sut got ${req.toString().split('\r\n')[0]}`);
      peerPort = sock.remotePort ?? 0;
      sock.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234');
      await sleep(300); // longer than the idle gap: only framing can keep the response whole
      sock.write('56789'); // keep-alive: the SUT never closes
    });
    try {
      const driver = new InboundDriver({ host: '127.0.0.1', port: s.port, idleMs: 100 });
      const res = await driver.drive(Buffer.from('GET /x HTTP/1.1\r\nHost: a\r\n\r\n'), (port) => {
        events.push(`register ${port}`);
      });
      expect(res.response.toString()).to.equal('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789');
      expect(res.end).to.equal('framed');
      expect(events).to.deep.equal([`register ${peerPort}`, 'sut got GET /x HTTP/1.1']);
      expect(res.localPort).to.equal(peerPort);
      expect(res.totalMs).to.be.lessThan(2000);
    } finally {
      await stop(s);
    }
  });

  it('waits for the register promise before writing', async () => {
    let registered = false;
    let sawRegistered: boolean | undefined;
    const s = await sut(async (sock) => {
      sawRegistered = registered;
      sock.end('HTTP/1.1 204 No Content\r\n\r\n');
    });
    try {
      const res = await new InboundDriver({ host: '127.0.0.1', port: s.port }).drive(Buffer.from('DELETE /x HTTP/1.1\r\n\r\n'), async () => {
        await sleep(100);
        registered = true;
      });
      expect(sawRegistered).to.equal(true);
      expect(res.response.toString()).to.equal('HTTP/1.1 204 No Content\r\n\r\n');
    } finally {
      await stop(s);
    }
  });

  it('falls back to the idle gap for bytes it cannot frame', async () => {
    const s = await sut(async (sock) => {
      sock.write('hello ');
      await sleep(20);
      sock.write('world');
    });
    try {
      const res = await new InboundDriver({ host: '127.0.0.1', port: s.port, idleMs: 100 }).drive(Buffer.from('custom-proto\n'), () => undefined);
      expect(res.response.toString()).to.equal('hello world');
      expect(res.end).to.equal('idle');
    } finally {
      await stop(s);
    }
  });

  it('reports a SUT that does not listen', async () => {
    const s = await sut(async () => undefined);
    await stop(s);
    const res = await new InboundDriver({ host: '127.0.0.1', port: s.port }).drive(Buffer.from('GET / HTTP/1.1\r\n\r\n'), () => undefined);
    expect(res.end).to.equal('error');
    expect(res.error).to.match(/connect to SUT/);
  });
});
