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
import { parseIp } from '../assembler/address-text.js';
import { KoalaError } from '../errors.js';
import { SESSION_FORMAT_VERSION } from './session-line-encoder.js';

// The writer lives in its own file (it builds the text directly, for speed); this one reads.
export { encodeSessionLine } from './session-line-encoder.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

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

// Every field checked, so a bad line fails here rather than deep in replay ----

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
