// Replay mode: outbound TCP connects are redirected to KOALA_OUTBOUND_ADDR (a plain listener
// stands in for the replay gateway), UDP datagrams are reported and swallowed.
import { expect } from 'chai';
import { type AddressInfo, createServer, type Server } from 'node:net';

import { EventKind as K, Mode } from '../../src/generated/koala/v1/agent.pb.js';
import { compile, ensureShim, FakeGateway, fmtAddr, runRecorded, TempDir } from './shim-harness.js';

describe('csrc replay redirect', function () {
  this.timeout(30000);
  let dir: TempDir;
  let gw: FakeGateway;
  let mock: Server;
  let mockPort = 0;
  const seen: { bytes: string; remotePort: number }[] = [];

  before(() => ensureShim());
  beforeEach(async () => {
    dir = new TempDir();
    gw = new FakeGateway(dir.file('agent.sock'));
    await gw.start();
    mock = createServer((s) => {
      s.on('data', (d) => {
        seen.push({ bytes: d.toString(), remotePort: s.remotePort ?? 0 });
        s.write('pong');
      });
      s.on('error', () => {});
    });
    await new Promise<void>((ok) => mock.listen(0, '127.0.0.1', () => ok()));
    mockPort = (mock.address() as AddressInfo).port;
  });
  afterEach(async () => {
    await new Promise<void>((ok) => mock.close(() => ok()));
    await gw.close();
    dir.remove();
  });

  it('connects to the outbound address instead, reporting the bound local and the original destination', async () => {
    // 192.0.2.1 (TEST-NET-1) is unreachable: only the redirect can make this connect succeed.
    const { res, events } = await runRecorded(gw, compile(dir, 'replay'), ['192.0.2.1', '3306'], {
      KOALA_MODE: 'replay',
      KOALA_OUTBOUND_ADDR: `127.0.0.1:${mockPort}`,
    });
    expect(gw.conns.find((c) => c.hello.pid === res.pid)!.hello.mode).to.equal(Mode.MODE_REPLAY);
    expect(seen).to.deep.equal([{ bytes: 'ping', remotePort: Number(res.out.local_port) }]);
    const connect = events.find((e) => e.kind === K.EVENT_KIND_CONNECT && e.fd === Number(res.out.c))!;
    expect(fmtAddr(connect.originalDst)).to.equal('192.0.2.1:3306');
    expect(fmtAddr(connect.peer)).to.equal('192.0.2.1:3306');
    expect(fmtAddr(connect.local)).to.equal(`127.0.0.1:${res.out.local_port}`);
    const dgram = events.filter((e) => e.kind === K.EVENT_KIND_DATAGRAM);
    expect(dgram.map((e) => [Buffer.from(e.payload).toString(), fmtAddr(e.originalDst)])).to.deep.equal([
      ['udp', `127.0.0.1:${res.out.udp_port}`],
    ]);
  });
});
