import { AgentKind } from '../../src/generated/koala/v1/agent.pb.js';
import { SessionEndReason, Transport, type Prelude, type Session, type Talk } from '../../src/generated/koala/v1/session.pb.js';
import { makeAddress } from '../../src/replay/format-address.js';

export interface TalkSpec {
  dst: string;
  request: string | Buffer;
  response?: string | Buffer;
  oneWay?: boolean;
  udp?: boolean;
}

const buf = (x: string | Buffer | undefined): Buffer => (x === undefined ? Buffer.alloc(0) : typeof x === 'string' ? Buffer.from(x, 'latin1') : x);

export function addr(hostPort: string) {
  const i = hostPort.lastIndexOf(':');
  return makeAddress(hostPort.slice(0, i), Number(hostPort.slice(i + 1)));
}

export function makeTalk(spec: TalkSpec, index: number): Talk {
  return {
    index,
    connId: BigInt(index + 1),
    transport: spec.udp === true ? Transport.TRANSPORT_UDP : Transport.TRANSPORT_TCP,
    peer: addr(spec.dst),
    local: undefined,
    request: buf(spec.request),
    response: buf(spec.response),
    requestNs: 0n,
    responseNs: 0n,
    oneWay: spec.oneWay === true || spec.udp === true,
    requestLen: BigInt(buf(spec.request).length),
    responseLen: BigInt(buf(spec.response).length),
    tid: 0n,
  };
}

export function makePrelude(dst: string, talks: Array<{ request?: string | Buffer; response: string | Buffer }>, serverFirst = true): Prelude {
  return {
    connId: 99n,
    transport: Transport.TRANSPORT_TCP,
    peer: addr(dst),
    talks: talks.map((t, i) => makeTalk({ dst, request: t.request ?? Buffer.alloc(0), response: t.response }, i)),
    serverFirst,
  };
}

export function makeSession(id: string, inbound: { request: string | Buffer; response: string | Buffer }, talks: TalkSpec[] = [], preludes: Prelude[] = []): Session {
  return {
    id,
    sut: 'test-sut',
    pid: 1,
    agent: AgentKind.AGENT_KIND_C_SHIM,
    vtid: 1n,
    startedNs: 0n,
    endedNs: 0n,
    endReason: SessionEndReason.SESSION_END_REASON_INBOUND_CLOSED,
    inbound: {
      connId: 1n,
      peer: addr('127.0.0.1:50000'),
      local: addr('127.0.0.1:8080'),
      request: buf(inbound.request),
      response: buf(inbound.response),
      requestNs: 0n,
      responseNs: 0n,
      requestLen: BigInt(buf(inbound.request).length),
      responseLen: BigInt(buf(inbound.response).length),
    },
    talks: talks.map(makeTalk),
    preludes,
    completeness: undefined,
    replayOf: '',
    hostname: 'test',
  };
}
