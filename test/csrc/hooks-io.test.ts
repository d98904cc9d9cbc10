// send/recv, sendto/recvfrom, sendmsg/recvmsg, read/write, readv/writev under the shim.
import { expect } from 'chai';

import { EventKind as K, type Event, SocketType } from '../../src/generated/koala/v1/agent.pb.js';
import { bytesOn, compile, fmtAddr, runRecorded, withFakeGateway } from './shim-harness.js';

function connOf(events: Event[], kind: K, fd: number): bigint {
  const e = events.find((x) => x.kind === kind && x.fd === fd);
  expect(e, `${K[kind]} on fd ${fd}`).to.not.equal(undefined);
  return e!.connId;
}

describe('csrc hooks: I/O', function () {
  this.timeout(30000);
  const t = withFakeGateway();

  it('records send/recv bytes, splits big transfers into 64 KiB events, reports EOF, skips MSG_PEEK', async () => {
    const { res, events } = await runRecorded(t.gw, compile(t.dir, 'sendrecv'));
    const c = connOf(events, K.EVENT_KIND_CONNECT, Number(res.out.c));
    const a = connOf(events, K.EVENT_KIND_ACCEPT, Number(res.out.a));
    expect(bytesOn(events, K.EVENT_KIND_SEND, c).subarray(0, 5).toString()).to.equal('hello');
    const recvA = events.filter((e) => e.kind === K.EVENT_KIND_RECV && e.connId === a);
    expect(Buffer.from(recvA[0]!.payload).toString()).to.equal('hello'); // the peek was not recorded
    const big = Buffer.alloc(200 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = 97 + (i % 26);
    expect(bytesOn(events, K.EVENT_KIND_SEND, a).equals(big)).to.equal(true);
    expect(bytesOn(events, K.EVENT_KIND_RECV, c).equals(big)).to.equal(true);
    for (const e of events) {
      expect(e.payload.length).to.be.at.most(64 * 1024);
      expect(e.payloadLen).to.equal(BigInt(e.payload.length));
    }
    const eof = recvA[recvA.length - 1]!;
    expect(eof.payload.length).to.equal(0);
    expect(eof.payloadLen).to.equal(0n);
    expect(eof.fd).to.equal(Number(res.out.a));
  });

  it('records UDP datagrams with their destination, not UDP receives; TCP sendto/recvfrom as SEND/RECV', async () => {
    const { res, events } = await runRecorded(t.gw, compile(t.dir, 'udp'));
    const o = res.out;
    const dgrams = events.filter((e) => e.kind === K.EVENT_KIND_DATAGRAM);
    expect(dgrams.map((e) => [e.fd, Buffer.from(e.payload).toString(), fmtAddr(e.originalDst), fmtAddr(e.peer)])).to.deep.equal([
      [Number(o.s), 'dgram-1', `127.0.0.1:${o.udp_port}`, `127.0.0.1:${o.udp_port}`],
      [Number(o.u), 'dgram-2', `127.0.0.1:${o.udp_port}`, `127.0.0.1:${o.udp_port}`],
    ]);
    expect(dgrams.every((e) => e.socketType === SocketType.SOCKET_TYPE_DGRAM)).to.equal(true);
    expect(events.filter((e) => e.kind === K.EVENT_KIND_RECV && e.socketType !== SocketType.SOCKET_TYPE_STREAM)).to.deep.equal([]);
    const c = connOf(events, K.EVENT_KIND_CONNECT, Number(o.c));
    const a = connOf(events, K.EVENT_KIND_ACCEPT, Number(o.a));
    expect(bytesOn(events, K.EVENT_KIND_SEND, c).toString()).to.equal('tcp-sendto');
    expect(bytesOn(events, K.EVENT_KIND_RECV, a).toString()).to.equal('tcp-sendto');
  });

  it('records sendmsg/recvmsg and writev/readv across iovecs', async () => {
    const { res, events } = await runRecorded(t.gw, compile(t.dir, 'msg'));
    const c = connOf(events, K.EVENT_KIND_CONNECT, Number(res.out.c));
    const a = connOf(events, K.EVENT_KIND_ACCEPT, Number(res.out.a));
    expect(bytesOn(events, K.EVENT_KIND_SEND, c).toString()).to.equal('abcdef');
    expect(bytesOn(events, K.EVENT_KIND_RECV, a).toString()).to.equal('abcdef');
    expect(bytesOn(events, K.EVENT_KIND_SEND, a).toString()).to.equal('writev-data');
    expect(bytesOn(events, K.EVENT_KIND_RECV, c).toString()).to.equal('writev-data');
  });

  it('records read/write on sockets but not on pipes or files', async () => {
    const { res, events } = await runRecorded(t.gw, compile(t.dir, 'readwrite'), [t.dir.file('plain.txt')]);
    const c = connOf(events, K.EVENT_KIND_CONNECT, Number(res.out.c));
    const a = connOf(events, K.EVENT_KIND_ACCEPT, Number(res.out.a));
    expect(bytesOn(events, K.EVENT_KIND_SEND, c).toString()).to.equal('GET /x');
    expect(bytesOn(events, K.EVENT_KIND_RECV, a).toString()).to.equal('GET /x');
    expect(bytesOn(events, K.EVENT_KIND_SEND, a).toString()).to.equal('200 OK');
    expect(bytesOn(events, K.EVENT_KIND_RECV, c).toString()).to.equal('200 OK');
    const all = events.map((e) => Buffer.from(e.payload).toString()).join('|');
    expect(all).to.not.include('pipe-bytes');
    expect(all).to.not.include('file-bytes');
  });
});
