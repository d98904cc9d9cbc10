import { AddressFamily, AgentKind } from '../../src/generated/koala/v1/agent.pb.js';
import { SessionEndReason, Transport, type Session, type Talk } from '../../src/generated/koala/v1/session.pb.js';

export const v4 = (ip: number[], port: number) => ({ family: AddressFamily.ADDRESS_FAMILY_INET, ip: Buffer.from(ip), port, path: '' });

export function talk(index: number, request: Buffer, response: Buffer): Talk {
  return {
    index,
    connId: 2n,
    transport: Transport.TRANSPORT_TCP,
    peer: v4([10, 0, 0, 2], 6379),
    local: undefined,
    request,
    response,
    requestNs: 1700000000000000100n,
    responseNs: 1700000000000000200n,
    oneWay: false,
    requestLen: BigInt(request.length),
    responseLen: BigInt(response.length),
    tid: 4242n,
  };
}

export function sampleSession(over: Partial<Session> = {}): Session {
  return {
    id: '01700000000000000000-100-10-1',
    sut: 'svc',
    pid: 100,
    agent: AgentKind.AGENT_KIND_C_SHIM,
    vtid: 9007199254740993n, // beyond 2^53: must survive as a string
    startedNs: 1700000000000000000n,
    endedNs: 1700000000000000999n,
    endReason: SessionEndReason.SESSION_END_REASON_IDLE,
    inbound: {
      connId: 1n,
      peer: v4([127, 0, 0, 1], 40000),
      local: { family: AddressFamily.ADDRESS_FAMILY_INET6, ip: Buffer.from('20010db8000000000000000000000001', 'hex'), port: 8080, path: '' },
      request: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      response: Buffer.from('HTTP/1.1 200 OK\r\n\r\nhéllo ✓'),
      requestNs: 1700000000000000000n,
      responseNs: 1700000000000000500n,
      requestLen: 27n,
      responseLen: 29n,
    },
    talks: [talk(0, Buffer.from([0, 1, 2, 0xff, 0xfe]), Buffer.from('+OK\r\n')), talk(1, Buffer.alloc(0), Buffer.alloc(0))],
    preludes: [
      {
        connId: 3n,
        transport: Transport.TRANSPORT_UNIX,
        peer: { family: AddressFamily.ADDRESS_FAMILY_UNIX, ip: Buffer.alloc(0), port: 0, path: '/run/mysql.sock' },
        talks: [talk(0, Buffer.alloc(0), Buffer.from([0x0a, 0x35, 0x2e, 0x37, 0x00]))],
        serverFirst: true,
      },
    ],
    completeness: { droppedEvents: 1n, truncatedBytes: 2n, seqGaps: 3n, notes: ['inbound closed before response'] },
    replayOf: '',
    hostname: 'host1',
    ...over,
  };
}

