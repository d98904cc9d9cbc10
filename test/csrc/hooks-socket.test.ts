// accept/accept4, connect (blocking, non-blocking, refused), close + fd reuse, dup2, IPv6, unix
// sockets and bypass addresses, each from a tiny C program run under the shim.
import { expect } from 'chai';

import { EventKind as K, type Event, SocketType } from '../../src/generated/koala/v1/agent.pb.js';
import { bytesOn, compile, fmtAddr, runRecorded, withFakeGateway } from './shim-harness.js';
import { freePort } from '../helpers/ports.js';

function only(events: Event[], kind: K, fd: number): Event {
  const found = events.filter((e) => e.kind === kind && e.fd === fd);
  expect(found, `${K[kind]} on fd ${fd}`).to.have.length(1);
  return found[0]!;
}

describe('csrc hooks: sockets', function () {
  this.timeout(30000);
  const t = withFakeGateway();

  it('reports accept(fd, NULL, NULL) and accept4 with local, peer and the listener', async () => {
    const { res, events } = await runRecorded(t.gw, compile(t.dir, 'accept'));
    const o = res.out;
    const a1 = only(events, K.EVENT_KIND_ACCEPT, Number(o.a1));
    const a2 = only(events, K.EVENT_KIND_ACCEPT, Number(o.a2));
    expect(fmtAddr(a1.local)).to.equal(`127.0.0.1:${o.listen_port}`);
    expect(fmtAddr(a1.peer)).to.equal(`127.0.0.1:${o.c1_port}`);
    expect(fmtAddr(a2.peer)).to.equal(`127.0.0.1:${o.c2_port}`);
    expect(a1.socketType).to.equal(SocketType.SOCKET_TYPE_STREAM);
    expect(a1.listenConnId).to.not.equal(0n);
    expect(a2.listenConnId).to.equal(a1.listenConnId);
    const ids = events.filter((e) => e.kind === K.EVENT_KIND_ACCEPT || e.kind === K.EVENT_KIND_CONNECT).map((e) => e.connId);
    expect(new Set(ids).size).to.equal(4);
    const c1 = only(events, K.EVENT_KIND_CONNECT, Number(o.c1));
    expect(fmtAddr(c1.peer)).to.equal(`127.0.0.1:${o.listen_port}`);
    expect(fmtAddr(c1.originalDst)).to.equal(`127.0.0.1:${o.listen_port}`);
    // seq is strictly increasing from 1 with no gaps.
    expect(events.map((e) => e.seq)).to.deep.equal(events.map((_, i) => BigInt(i + 1)));
  });

  it('reports one CONNECT per blocking and non-blocking connect, and CLOSE with errno when refused', async () => {
    const { res, events } = await runRecorded(t.gw, compile(t.dir, 'connect'));
    const o = res.out;
    const b = only(events, K.EVENT_KIND_CONNECT, Number(o.b));
    const nb = only(events, K.EVENT_KIND_CONNECT, Number(o.nb));
    expect(fmtAddr(b.peer)).to.equal(`127.0.0.1:${o.port}`);
    expect(fmtAddr(nb.peer)).to.equal(`127.0.0.1:${o.port}`);
    expect(nb.connId).to.not.equal(b.connId);
    const r = only(events, K.EVENT_KIND_CONNECT, Number(o.r));
    expect(fmtAddr(r.peer)).to.equal(`127.0.0.1:${o.dead_port}`);
    const refused = events.filter((e) => e.kind === K.EVENT_KIND_CLOSE && e.connId === r.connId);
    expect(refused).to.have.length(1);
    expect(refused[0]!.errno).to.equal(111); // ECONNREFUSED
    // the later close() of that fd must not report the dead connection again
    expect(events.filter((e) => e.kind === K.EVENT_KIND_CLOSE).map((e) => e.connId)).to.include.members([b.connId, nb.connId]);
  });

  it('gives a reused fd a new conn_id and ends a connection that dup2 replaces', async () => {
    const { res, events } = await runRecorded(t.gw, compile(t.dir, 'reuse'));
    const fd = Number(res.out.c);
    const connects = events.filter((e) => e.kind === K.EVENT_KIND_CONNECT && e.fd === fd);
    expect(connects).to.have.length(2);
    const [first, second] = connects as [Event, Event];
    expect(first.connId).to.not.equal(second.connId);
    expect(bytesOn(events, K.EVENT_KIND_SEND, first.connId).toString()).to.equal('one');
    expect(bytesOn(events, K.EVENT_KIND_SEND, second.connId).toString()).to.equal('two');
    const closes = events.filter((e) => e.kind === K.EVENT_KIND_CLOSE && e.fd === fd).map((e) => e.connId);
    expect(closes).to.deep.equal([first.connId, second.connId]);
    // after dup2 the fd is a pipe/tty: its write is not recorded
    expect(events.some((e) => Buffer.from(e.payload).toString().includes('not-a-socket'))).to.equal(false);
  });

  it('records IPv6 connections with 16-byte addresses', async () => {
    const { res, events } = await runRecorded(t.gw, compile(t.dir, 'ipv6'));
    const o = res.out;
    const loop6 = `[${'0'.repeat(31)}1]`;
    const acc = only(events, K.EVENT_KIND_ACCEPT, Number(o.a));
    expect(fmtAddr(acc.local)).to.equal(`${loop6}:${o.port}`);
    expect(fmtAddr(acc.peer)).to.equal(`${loop6}:${o.c_port}`);
    const con = only(events, K.EVENT_KIND_CONNECT, Number(o.c));
    expect(bytesOn(events, K.EVENT_KIND_SEND, con.connId).toString()).to.equal('v6');
    expect(bytesOn(events, K.EVENT_KIND_RECV, acc.connId).toString()).to.equal('v6');
  });

  it('records unix stream sockets by path and abstract name', async () => {
    const path = t.dir.file('svc.sock');
    const { events } = await runRecorded(t.gw, compile(t.dir, 'unix'), [path, `koala-test-${process.pid}`]);
    const connects = events.filter((e) => e.kind === K.EVENT_KIND_CONNECT);
    expect(connects.map((e) => fmtAddr(e.peer))).to.deep.equal([`unix:${path}`, `unix:@koala-test-${process.pid}`]);
    const accepts = events.filter((e) => e.kind === K.EVENT_KIND_ACCEPT);
    expect(accepts.map((e) => fmtAddr(e.local))).to.deep.equal([`unix:${path}`, `unix:@koala-test-${process.pid}`]);
    expect(bytesOn(events, K.EVENT_KIND_SEND, connects[0]!.connId).toString()).to.equal('over-path');
    expect(bytesOn(events, K.EVENT_KIND_RECV, accepts[1]!.connId).toString()).to.equal('over-abstract');
  });

  it('neither reports nor records a connection to a bypassed port', async () => {
    const port = await freePort();
    const { res, events } = await runRecorded(t.gw, compile(t.dir, 'bypass'), [String(port)], {
      KOALA_OUTBOUND_BYPASS_ADDR: `10.9.9.9:1,:${port}`,
    });
    expect(events.filter((e) => e.fd === Number(res.out.c))).to.deep.equal([]);
    // the accepting side is inbound and still recorded
    const acc = only(events, K.EVENT_KIND_ACCEPT, Number(res.out.a));
    expect(bytesOn(events, K.EVENT_KIND_RECV, acc.connId).toString()).to.equal('secret');
  });
});
