/**
 * The session-line encoder as it was before the direct text writer (object tree + JSON.stringify),
 * kept verbatim as the reference the writer must match byte for byte.
 */
import { isUtf8 } from 'node:buffer';
import { AddressFamily, AgentKind, type Address } from '../../src/generated/koala/v1/agent.pb.js';
import {
  SessionEndReason,
  Transport,
  type Completeness,
  type Inbound,
  type Prelude,
  type Session,
  type Talk,
} from '../../src/generated/koala/v1/session.pb.js';
import { formatIp } from '../../src/assembler/address-text.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const UNREADABLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

export function referenceSessionLine(s: Session): string {
  return JSON.stringify(encodeSession(s));
}

function encodeBytes(b: Uint8Array): JsonObject {
  if (b.length === 0) return { text: '' };
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  // isUtf8 instead of a fatal TextDecoder: the decoder's throw on binary payloads (MySQL rows,
  // greetings) cost a quarter of the gateway's CPU when recording a Go service.
  if (isUtf8(buf)) {
    const text = buf.toString('utf8');
    if (!UNREADABLE.test(text)) return { text };
  }
  return { base64: buf.toString('base64') };
}

function encodeSession(s: Session): JsonObject {
  return {
    v: 1,
    id: s.id,
    sut: s.sut,
    pid: s.pid,
    agent: enumName(AgentKind, s.agent),
    hostname: s.hostname,
    vtid: s.vtid.toString(),
    startedNs: s.startedNs.toString(),
    endedNs: s.endedNs.toString(),
    endReason: enumName(SessionEndReason, s.endReason),
    replayOf: s.replayOf,
    inbound: s.inbound ? encodeInbound(s.inbound) : null,
    talks: s.talks.map(encodeTalk),
    preludes: s.preludes.map(encodePrelude),
    completeness: s.completeness ? encodeCompleteness(s.completeness) : null,
  };
}

function encodeInbound(i: Inbound): JsonObject {
  return {
    connId: i.connId.toString(),
    peer: encodeAddress(i.peer),
    local: encodeAddress(i.local),
    requestNs: i.requestNs.toString(),
    responseNs: i.responseNs.toString(),
    requestLen: i.requestLen.toString(),
    responseLen: i.responseLen.toString(),
    request: encodeBytes(i.request),
    response: encodeBytes(i.response),
  };
}

function encodeTalk(t: Talk): JsonObject {
  return {
    index: t.index,
    connId: t.connId.toString(),
    transport: enumName(Transport, t.transport),
    peer: encodeAddress(t.peer),
    local: encodeAddress(t.local),
    tid: t.tid.toString(),
    oneWay: t.oneWay,
    requestNs: t.requestNs.toString(),
    responseNs: t.responseNs.toString(),
    requestLen: t.requestLen.toString(),
    responseLen: t.responseLen.toString(),
    request: encodeBytes(t.request),
    response: encodeBytes(t.response),
  };
}

function encodePrelude(p: Prelude): JsonObject {
  return {
    connId: p.connId.toString(),
    transport: enumName(Transport, p.transport),
    peer: encodeAddress(p.peer),
    serverFirst: p.serverFirst,
    talks: p.talks.map(encodeTalk),
  };
}

function encodeCompleteness(c: Completeness): JsonObject {
  return {
    droppedEvents: c.droppedEvents.toString(),
    truncatedBytes: c.truncatedBytes.toString(),
    seqGaps: c.seqGaps.toString(),
    notes: [...c.notes],
  };
}

function encodeAddress(a: Address | undefined): Json {
  if (!a) return null;
  const out: JsonObject = { family: enumName(AddressFamily, a.family) };
  if (a.ip.length > 0) {
    const text = ipMatchesFamily(a) ? formatIp(a.ip) : undefined;
    // An ip whose length does not fit the family is kept as raw bytes so nothing is lost.
    if (text !== undefined) out['ip'] = text;
    else out['ipBytes'] = encodeBytes(a.ip);
  }
  if (a.port !== 0 || a.family === AddressFamily.ADDRESS_FAMILY_INET || a.family === AddressFamily.ADDRESS_FAMILY_INET6) {
    out['port'] = a.port;
  }
  if (a.path !== '') out['path'] = a.path;
  return out;
}

function ipMatchesFamily(a: Address): boolean {
  return (
    (a.family === AddressFamily.ADDRESS_FAMILY_INET && a.ip.length === 4) ||
    (a.family === AddressFamily.ADDRESS_FAMILY_INET6 && a.ip.length === 16)
  );
}

function enumName(e: Record<string, string | number>, value: number): string {
  const name = e[value];
  // An unknown number (a newer schema) survives as its number in text.
  return typeof name === 'string' && name !== 'UNRECOGNIZED' ? name : String(value);
}

