/** Agent events for gateway tests: what a shim reports for simple exchanges. */
import { AddressFamily, EventKind, Event as EventMsg, type Event } from '../../src/generated/koala/v1/agent.pb.js';

const inet = (port: number) => ({ family: AddressFamily.ADDRESS_FAMILY_INET, ip: Buffer.from([127, 0, 0, 1]), port, path: '' });

/** One inbound HTTP exchange on connection 1, as a shim would report it; the session stays open. */
export function inboundExchange(): Event[] {
  const ev = (seq: number, kind: EventKind, extra: Partial<Event> = {}): Event =>
    EventMsg.fromPartial({ seq: BigInt(seq), tsNs: BigInt(seq) * 1000n, tid: 11n, kind, connId: 1n, fd: 5, socketType: 1, ...extra } as never);
  const req = Buffer.from('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n');
  const resp = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi');
  return [
    ev(1, EventKind.EVENT_KIND_ACCEPT, { local: inet(8080), peer: inet(50000) }),
    ev(2, EventKind.EVENT_KIND_RECV, { payload: req, payloadLen: BigInt(req.length) }),
    ev(3, EventKind.EVENT_KIND_SEND, { payload: resp, payloadLen: BigInt(resp.length) }),
  ];
}

/**
 * `n` inbound HTTP exchanges, each on its own connection and with one outbound Redis talk, each
 * connection closed at the end: n complete sessions, as a shim reports them.
 */
export function exchanges(n: number, firstSeq = 1): Event[] {
  let seq = firstSeq;
  const ev = (kind: EventKind, connId: number, extra: Partial<Event> = {}): Event =>
    EventMsg.fromPartial({ seq: BigInt(seq), tsNs: BigInt(seq++) * 1000n, tid: 11n, kind, connId: BigInt(connId), fd: 5, socketType: 1, ...extra } as never);
  const bytes = (s: string) => ({ payload: Buffer.from(s), payloadLen: BigInt(Buffer.byteLength(s)) });
  const out: Event[] = [];
  for (let i = 0; i < n; i++) {
    const inConn = 2 * i + 1;
    const outConn = 2 * i + 2;
    out.push(
      ev(EventKind.EVENT_KIND_ACCEPT, inConn, { local: inet(8080), peer: inet(40000 + i) }),
      ev(EventKind.EVENT_KIND_RECV, inConn, bytes(`GET /item/${i} HTTP/1.1\r\nHost: x\r\n\r\n`)),
      ev(EventKind.EVENT_KIND_CONNECT, outConn, { local: inet(50000 + i), peer: inet(6379) }),
      ev(EventKind.EVENT_KIND_SEND, outConn, bytes(`*2\r\n$3\r\nGET\r\n$${String(i).length + 5}\r\nitem:${i}\r\n`)),
      ev(EventKind.EVENT_KIND_RECV, outConn, bytes(`$3\r\nv${String(i).padStart(2, '0').slice(-2)}\r\n`)),
      ev(EventKind.EVENT_KIND_SEND, inConn, bytes(`HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n${i % 10}`)),
      ev(EventKind.EVENT_KIND_CLOSE, inConn),
    );
  }
  return out;
}
