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

