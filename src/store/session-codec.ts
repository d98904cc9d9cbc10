import { isUtf8 } from 'node:buffer';
import { AddressFamily, AgentKind, type Address } from '../generated/koala/v1/agent.pb.js';
import {
  SessionEndReason,
  Transport,
  type Completeness,
  type Inbound,
  type Prelude,
  type Session,
  type Talk,
} from '../generated/koala/v1/session.pb.js';
import { formatIp, parseIp } from '../assembler/address-text.js';
import { KoalaError } from '../errors.js';

/** Version of the line format (docs/session-format.md); bumped on any incompatible change. */
export const SESSION_FORMAT_VERSION = 1;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

// C0 controls other than \t \n \r, DEL and C1 controls make text unreadable: those go base64.
const UNREADABLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** One session as one JSON line (no trailing newline). */
export function encodeSessionLine(s: Session): string {
  return JSON.stringify(encodeSession(s));
}

/** The inverse of encodeSessionLine; throws KoalaError('KOALA_ERR_STORE_CORRUPT_LINE') saying why. */
export function decodeSessionLine(line: string): Session {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (err) {
    throw corrupt(`not JSON: ${(err as Error).message}`);
  }
  const o = obj(parsed, 'line');
  if (o['v'] !== SESSION_FORMAT_VERSION) throw corrupt(`unsupported format version ${JSON.stringify(o['v'])}`);
  return decodeSession(o);
}

export function encodeBytes(b: Uint8Array): JsonObject {
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
    v: SESSION_FORMAT_VERSION,
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

// ---- decoding: every field checked, so a bad line fails here rather than deep in replay ----

function decodeSession(o: JsonObject): Session {
  return {
    id: str(o, 'id', 'session'),
    sut: str(o, 'sut', 'session', ''),
    pid: int(o, 'pid', 'session', 0),
    agent: enumValue(AgentKind, o, 'agent', 'session'),
    hostname: str(o, 'hostname', 'session', ''),
    vtid: big(o, 'vtid', 'session'),
    startedNs: big(o, 'startedNs', 'session'),
    endedNs: big(o, 'endedNs', 'session'),
    endReason: enumValue(SessionEndReason, o, 'endReason', 'session'),
    replayOf: str(o, 'replayOf', 'session', ''),
    inbound: o['inbound'] == null ? undefined : decodeInbound(obj(o['inbound'], 'inbound')),
    talks: arr(o, 'talks', 'session').map((t, i) => decodeTalk(obj(t, `talks[${i}]`), `talks[${i}]`)),
    preludes: arr(o, 'preludes', 'session').map((p, i) => decodePrelude(obj(p, `preludes[${i}]`), `preludes[${i}]`)),
    completeness: o['completeness'] == null ? undefined : decodeCompleteness(obj(o['completeness'], 'completeness')),
  };
}

function decodeInbound(o: JsonObject): Inbound {
  const at = 'inbound';
  return {
    connId: big(o, 'connId', at),
    peer: decodeAddress(o['peer'], `${at}.peer`),
    local: decodeAddress(o['local'], `${at}.local`),
    request: bytes(o, 'request', at),
    response: bytes(o, 'response', at),
    requestNs: big(o, 'requestNs', at),
    responseNs: big(o, 'responseNs', at),
    requestLen: big(o, 'requestLen', at),
    responseLen: big(o, 'responseLen', at),
  };
}

function decodeTalk(o: JsonObject, at: string): Talk {
  const oneWay = o['oneWay'] ?? false;
  if (typeof oneWay !== 'boolean') throw corrupt(`${at}.oneWay: expected a boolean`);
  return {
    index: int(o, 'index', at, 0),
    connId: big(o, 'connId', at),
    transport: enumValue(Transport, o, 'transport', at),
    peer: decodeAddress(o['peer'], `${at}.peer`),
    local: decodeAddress(o['local'], `${at}.local`),
    request: bytes(o, 'request', at),
    response: bytes(o, 'response', at),
    requestNs: big(o, 'requestNs', at),
    responseNs: big(o, 'responseNs', at),
    oneWay,
    requestLen: big(o, 'requestLen', at),
    responseLen: big(o, 'responseLen', at),
    tid: big(o, 'tid', at),
  };
}

function decodePrelude(o: JsonObject, at: string): Prelude {
  const serverFirst = o['serverFirst'] ?? false;
  if (typeof serverFirst !== 'boolean') throw corrupt(`${at}.serverFirst: expected a boolean`);
  return {
    connId: big(o, 'connId', at),
    transport: enumValue(Transport, o, 'transport', at),
    peer: decodeAddress(o['peer'], `${at}.peer`),
    talks: arr(o, 'talks', at).map((t, i) => decodeTalk(obj(t, `${at}.talks[${i}]`), `${at}.talks[${i}]`)),
    serverFirst,
  };
}

function decodeCompleteness(o: JsonObject): Completeness {
  const notes = arr(o, 'notes', 'completeness').map((n, i) => {
    if (typeof n !== 'string') throw corrupt(`completeness.notes[${i}]: expected a string`);
    return n;
  });
  return {
    droppedEvents: big(o, 'droppedEvents', 'completeness'),
    truncatedBytes: big(o, 'truncatedBytes', 'completeness'),
    seqGaps: big(o, 'seqGaps', 'completeness'),
    notes,
  };
}

function decodeAddress(v: Json | undefined, at: string): Address | undefined {
  if (v == null) return undefined;
  const o = obj(v, at);
  const family = enumValue(AddressFamily, o, 'family', at);
  let ip: Buffer = Buffer.alloc(0);
  if (o['ip'] != null) {
    const text = o['ip'];
    const parsed = typeof text === 'string' ? parseIp(text) : undefined;
    if (!parsed) throw corrupt(`${at}.ip: not an IP address: ${JSON.stringify(text)}`);
    ip = parsed;
  } else if (o['ipBytes'] != null) {
    ip = bytes(o, 'ipBytes', at);
  }
  const port = int(o, 'port', at, 0);
  if (port < 0 || port > 65535) throw corrupt(`${at}.port: out of range: ${port}`);
  return { family, ip, port, path: str(o, 'path', at, '') };
}

function bytes(o: JsonObject, key: string, at: string): Buffer {
  const v = o[key];
  if (v == null) return Buffer.alloc(0);
  const b = obj(v, `${at}.${key}`);
  if (typeof b['text'] === 'string') return Buffer.from(b['text'], 'utf8');
  if (typeof b['base64'] === 'string') {
    const s = b['base64'];
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) throw corrupt(`${at}.${key}.base64: not base64`);
    return Buffer.from(s, 'base64');
  }
  throw corrupt(`${at}.${key}: expected {"text": ...} or {"base64": ...}`);
}

function big(o: JsonObject, key: string, at: string): bigint {
  const v = o[key];
  if (v == null) return 0n;
  if (typeof v !== 'string' || !/^-?\d+$/.test(v)) throw corrupt(`${at}.${key}: expected a decimal string, got ${JSON.stringify(v)}`);
  return BigInt(v);
}

function int(o: JsonObject, key: string, at: string, dflt: number): number {
  const v = o[key];
  if (v == null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw corrupt(`${at}.${key}: expected an integer`);
  return v;
}

function str(o: JsonObject, key: string, at: string, dflt?: string): string {
  const v = o[key];
  if (v == null && dflt !== undefined) return dflt;
  if (typeof v !== 'string') throw corrupt(`${at}.${key}: expected a string`);
  return v;
}

function arr(o: JsonObject, key: string, at: string): Json[] {
  const v = o[key];
  if (v == null) return [];
  if (!Array.isArray(v)) throw corrupt(`${at}.${key}: expected an array`);
  return v;
}

function obj(v: unknown, at: string): JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw corrupt(`${at}: expected an object`);
  return v as JsonObject;
}

function enumValue(e: Record<string, string | number>, o: JsonObject, key: string, at: string): number {
  const v = o[key];
  if (v == null) return 0;
  if (typeof v === 'string') {
    const n = e[v];
    if (typeof n === 'number' && n >= 0) return n;
    if (/^\d+$/.test(v)) return Number(v);
  }
  throw corrupt(`${at}.${key}: unknown value ${JSON.stringify(v)}`);
}

function corrupt(why: string): KoalaError {
  return new KoalaError('KOALA_ERR_STORE_CORRUPT_LINE', `malformed session line: ${why}`);
}
