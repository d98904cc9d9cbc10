/**
 * The original koala's replay input (reference §2.7, the ReplayingSession JSON posted to /json)
 * converted into our Session. Field names match case-insensitively, unknown fields are ignored,
 * byte fields are base64, as Go's encoding/json reads them.
 */
import { parseIp } from '../assembler/address-text.js';
import { KoalaError } from '../errors.js';
import { Session, Transport, type Talk } from '../generated/koala/v1/session.pb.js';
import type { Address } from '../generated/koala/v1/agent.pb.js';
import { makeAddress } from './format-address.js';

type JsonObject = Record<string, unknown>;

function bad(message: string): KoalaError {
  return new KoalaError('KOALA_ERR_REPLAY', `ReplayingSession JSON: ${message}`);
}

/** A field by name, case-insensitively (Go's encoding/json rule). */
function field(o: JsonObject, name: string): unknown {
  if (name in o) return o[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(o)) if (k.toLowerCase() === lower) return o[k];
  return undefined;
}

function object(v: unknown, what: string, required: boolean): JsonObject | undefined {
  if (v === undefined || v === null) {
    if (required) throw bad(`${what} is missing`);
    return undefined;
  }
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(`${what} must be an object`);
  return v as JsonObject;
}

function bytes(v: unknown, what: string): Buffer {
  if (v === undefined || v === null) return Buffer.alloc(0);
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) throw bad(`${what} must be base64 text`);
  return Buffer.from(v, 'base64');
}

function int(v: unknown, what: string): bigint {
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  throw bad(`${what} must be an integer`);
}

/** Go's net.TCPAddr JSON form: { IP: "127.0.0.1", Port: 3306, Zone: "" }. */
function peer(v: unknown, what: string): Address | undefined {
  const o = object(v, what, false);
  if (o === undefined) return undefined;
  const ip = field(o, 'IP');
  const port = field(o, 'Port');
  if (typeof ip !== 'string' || parseIp(ip) === undefined || typeof port !== 'number' || !Number.isInteger(port)) return undefined;
  return makeAddress(ip, port);
}

/**
 * Converts one ReplayingSession. CallOutbounds become talks in array order; their Peer (ignored
 * for matching by the original) is the original destination our matcher keys on, so a talk
 * without one can never be served.
 */
export function fromReferenceSession(json: unknown, sutName = ''): Session {
  const root = object(json, 'the body', true)!;
  const id = field(root, 'SessionId');
  if (typeof id !== 'string' || id === '') throw bad('SessionId must be a non-empty string');
  const call = object(field(root, 'CallFromInbound'), 'CallFromInbound', true)!;
  const ret = object(field(root, 'ReturnInbound'), 'ReturnInbound', true)!;
  const outs = field(root, 'CallOutbounds') ?? [];
  if (!Array.isArray(outs)) throw bad('CallOutbounds must be an array');
  const request = bytes(field(call, 'Request'), 'CallFromInbound.Request');
  const response = bytes(field(ret, 'Response'), 'ReturnInbound.Response');
  const talks: Talk[] = outs.map((raw, i) => {
    const o = object(raw, `CallOutbounds[${i}]`, true)!;
    const req = bytes(field(o, 'Request'), `CallOutbounds[${i}].Request`);
    const resp = bytes(field(o, 'Response'), `CallOutbounds[${i}].Response`);
    return {
      index: i,
      connId: int(field(o, 'SocketFD'), `CallOutbounds[${i}].SocketFD`),
      transport: Transport.TRANSPORT_TCP,
      peer: peer(field(o, 'Peer'), `CallOutbounds[${i}].Peer`),
      local: undefined,
      request: req,
      response: resp,
      requestNs: int(field(o, 'OccurredAt'), `CallOutbounds[${i}].OccurredAt`),
      responseNs: int(field(o, 'ResponseTime'), `CallOutbounds[${i}].ResponseTime`),
      oneWay: false,
      requestLen: BigInt(req.length),
      responseLen: BigInt(resp.length),
      tid: 0n,
    };
  });
  return Session.fromPartial({
    id,
    sut: sutName,
    startedNs: int(field(call, 'OccurredAt'), 'CallFromInbound.OccurredAt'),
    inbound: {
      peer: peer(field(call, 'Peer'), 'CallFromInbound.Peer'),
      request,
      response,
      requestLen: BigInt(request.length),
      responseLen: BigInt(response.length),
    },
    talks,
  });
}
