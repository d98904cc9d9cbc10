/**
 * The writer side of the session line (docs/session-format.md), written as bytes directly: the
 * object tree + JSON.stringify + UTF-8 encoding it replaces was most of the gateway's CPU when
 * recording. The bytes are exactly the UTF-8 of JSON.stringify of the documented object
 * (test/store/session-line-encoder.test.ts holds the two side by side).
 */
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
import { formatIp } from '../assembler/address-text.js';
import { LineWriter } from './line-writer.js';

/** Version of the line format (docs/session-format.md); bumped on any incompatible change. */
export const SESSION_FORMAT_VERSION = 1;

const out = new LineWriter();
const LINE_START = `{"v":${SESSION_FORMAT_VERSION},"id":`;

/** One session as one JSON line (no trailing newline). */
export function encodeSessionLine(s: Session): string {
  return encodeSessionLineBytes(s).toString('utf8');
}

/** The UTF-8 bytes of encodeSessionLine(s), plus the trailing newline when asked (the store's form). */
export function encodeSessionLineBytes(s: Session, newline = false): Buffer {
  return Buffer.from(encodeSessionLineView(s, newline));
}

/**
 * encodeSessionLineBytes without the copy: the bytes are a view of a scratch buffer that the next
 * encoding overwrites, so the caller copies them first (the store copies them into its write).
 */
export function encodeSessionLineView(s: Session, newline = false): Buffer {
  const w = out;
  try {
    w.ascii(LINE_START);
    w.json(s.id);
    w.ascii(',"sut":');
    w.json(s.sut);
    w.ascii(',"pid":');
    w.number(s.pid);
    w.ascii(',"agent":"');
    w.ascii(enumName(AgentKind, s.agent));
    w.ascii('","hostname":');
    w.json(s.hostname);
    w.ascii(',"vtid":"');
    w.decimal(s.vtid);
    w.ascii('","startedNs":"');
    w.decimal(s.startedNs);
    w.ascii('","endedNs":"');
    w.decimal(s.endedNs);
    w.ascii('","endReason":"');
    w.ascii(enumName(SessionEndReason, s.endReason));
    w.ascii('","replayOf":');
    w.json(s.replayOf);
    w.ascii(',"inbound":');
    if (s.inbound) writeInbound(w, s.inbound);
    else w.ascii('null');
    w.ascii(',"talks":[');
    for (let i = 0; i < s.talks.length; i++) {
      if (i > 0) w.ascii(',');
      writeTalk(w, s.talks[i]!);
    }
    w.ascii('],"preludes":[');
    for (let i = 0; i < s.preludes.length; i++) {
      if (i > 0) w.ascii(',');
      writePrelude(w, s.preludes[i]!);
    }
    w.ascii('],"completeness":');
    if (s.completeness) writeCompleteness(w, s.completeness);
    else w.ascii('null');
    w.ascii(newline ? '}\n' : '}');
  } catch (err) {
    w.view(); // start the next line clean
    throw err;
  }
  return w.view();
}

function writeInbound(w: LineWriter, i: Inbound): void {
  w.ascii('{"connId":"');
  w.decimal(i.connId);
  w.ascii('","peer":');
  writeAddress(w, i.peer);
  w.ascii(',"local":');
  writeAddress(w, i.local);
  writeExchange(w, i);
}

function writeTalk(w: LineWriter, t: Talk): void {
  w.ascii('{"index":');
  w.number(t.index);
  w.ascii(',"connId":"');
  w.decimal(t.connId);
  w.ascii('","transport":"');
  w.ascii(enumName(Transport, t.transport));
  w.ascii('","peer":');
  writeAddress(w, t.peer);
  w.ascii(',"local":');
  writeAddress(w, t.local);
  w.ascii(',"tid":"');
  w.decimal(t.tid);
  w.ascii('","oneWay":');
  w.ascii(t.oneWay ? 'true' : 'false');
  writeExchange(w, t);
}

/** The fields an inbound exchange and a talk share, which end both objects. */
function writeExchange(w: LineWriter, x: Inbound | Talk): void {
  w.ascii(',"requestNs":"');
  w.decimal(x.requestNs);
  w.ascii('","responseNs":"');
  w.decimal(x.responseNs);
  w.ascii('","requestLen":"');
  w.decimal(x.requestLen);
  w.ascii('","responseLen":"');
  w.decimal(x.responseLen);
  w.ascii('","request":');
  w.bytes(x.request);
  w.ascii(',"response":');
  w.bytes(x.response);
  w.ascii('}');
}

/**
 * A connection's prelude is one set of Talk objects shared by every session that used the
 * connection (the assembler builds a finished talk once): its bytes are built once too. Each use
 * compares the talk's fields with those the bytes were built from, so a changed talk is encoded
 * afresh (payload bytes, like everywhere in the pipeline, are never changed in place).
 */
const preludeTalkBytes = new WeakMap<Talk, { built: Talk; bytes: Buffer }>();

function writePreludeTalk(w: LineWriter, t: Talk): void {
  const c = preludeTalkBytes.get(t);
  if (c !== undefined && sameTalk(c.built, t)) return w.raw(c.bytes);
  const from = w.mark();
  writeTalk(w, t);
  const built = { ...t, peer: t.peer && { ...t.peer }, local: t.local && { ...t.local } };
  preludeTalkBytes.set(t, { built, bytes: w.copyFrom(from) });
}

function sameTalk(a: Talk, b: Talk): boolean {
  return (
    a.request === b.request && a.response === b.response && a.index === b.index && a.connId === b.connId &&
    a.transport === b.transport && sameAddress(a.peer, b.peer) && sameAddress(a.local, b.local) && a.tid === b.tid && a.oneWay === b.oneWay &&
    a.requestNs === b.requestNs && a.responseNs === b.responseNs && a.requestLen === b.requestLen && a.responseLen === b.responseLen
  );
}

function sameAddress(a: Address | undefined, b: Address | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.family === b.family && a.ip === b.ip && a.port === b.port && a.path === b.path;
}

function writePrelude(w: LineWriter, p: Prelude): void {
  w.ascii('{"connId":"');
  w.decimal(p.connId);
  w.ascii('","transport":"');
  w.ascii(enumName(Transport, p.transport));
  w.ascii('","peer":');
  writeAddress(w, p.peer);
  w.ascii(',"serverFirst":');
  w.ascii(p.serverFirst ? 'true' : 'false');
  w.ascii(',"talks":[');
  for (let i = 0; i < p.talks.length; i++) {
    if (i > 0) w.ascii(',');
    writePreludeTalk(w, p.talks[i]!);
  }
  w.ascii(']}');
}

function writeCompleteness(w: LineWriter, c: Completeness): void {
  w.ascii('{"droppedEvents":"');
  w.decimal(c.droppedEvents);
  w.ascii('","truncatedBytes":"');
  w.decimal(c.truncatedBytes);
  w.ascii('","seqGaps":"');
  w.decimal(c.seqGaps);
  w.ascii('","notes":');
  if (c.notes.length === 0) w.ascii('[]}');
  else {
    w.json(c.notes);
    w.ascii('}');
  }
}

/** A connection's addresses are one object in every talk on it: their bytes are built once. */
const addressBytes = new WeakMap<Address, { built: Address; bytes: Buffer }>();

function writeAddress(w: LineWriter, a: Address | undefined): void {
  if (!a) return w.ascii('null');
  const c = addressBytes.get(a);
  if (c !== undefined && sameAddress(c.built, a)) return w.raw(c.bytes);
  const from = w.mark();
  writeAddressFields(w, a);
  addressBytes.set(a, { built: { ...a }, bytes: w.copyFrom(from) });
}

function writeAddressFields(w: LineWriter, a: Address): void {
  w.ascii('{"family":"');
  w.ascii(enumName(AddressFamily, a.family));
  w.ascii('"');
  if (a.ip.length > 0) {
    const text = ipMatchesFamily(a) ? formatIp(a.ip) : undefined;
    // An ip whose length does not fit the family is kept as raw bytes so nothing is lost.
    if (text !== undefined) w.ascii(',"ip":"' + text + '"');
    else {
      w.ascii(',"ipBytes":');
      w.bytes(a.ip);
    }
  }
  if (a.port !== 0 || a.family === AddressFamily.ADDRESS_FAMILY_INET || a.family === AddressFamily.ADDRESS_FAMILY_INET6) {
    w.ascii(',"port":');
    w.number(a.port);
  }
  if (a.path !== '') {
    w.ascii(',"path":');
    w.json(a.path);
  }
  w.ascii('}');
}

function ipMatchesFamily(a: Address): boolean {
  return (
    (a.family === AddressFamily.ADDRESS_FAMILY_INET && a.ip.length === 4) ||
    (a.family === AddressFamily.ADDRESS_FAMILY_INET6 && a.ip.length === 16)
  );
}

/** The enum value's name; an unknown number (a newer schema) survives as its number. */
function enumName(e: Record<string, string | number>, value: number): string {
  const name = e[value];
  return typeof name === 'string' && name !== 'UNRECOGNIZED' ? name : String(value);
}
