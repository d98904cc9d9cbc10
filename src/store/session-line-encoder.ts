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
import { LineWriter, piece, type Piece } from './line-writer.js';

/** Version of the line format (docs/session-format.md); bumped on any incompatible change. */
export const SESSION_FORMAT_VERSION = 1;

const out = new LineWriter();
const LINE_START = piece(`{"v":${SESSION_FORMAT_VERSION},"id":`);

/* The line's constant parts (a piece is written faster than a string: line-writer.ts). */
const P_QUOTE = piece('"');
const P_ENDREASON = piece('","endReason":"');
const P_ENDEDNS = piece('","endedNs":"');
const P_HOSTNAME = piece('","hostname":');
const P_NOTES = piece('","notes":');
const P_ONEWAY = piece('","oneWay":');
const P_PEER = piece('","peer":');
const P_REPLAYOF = piece('","replayOf":');
const P_REQUEST = piece('","request":');
const P_REQUESTLEN = piece('","requestLen":"');
const P_RESPONSELEN = piece('","responseLen":"');
const P_RESPONSENS = piece('","responseNs":"');
const P_SEQGAPS = piece('","seqGaps":"');
const P_STARTEDNS = piece('","startedNs":"');
const P_TRANSPORT = piece('","transport":"');
const P_TRUNCATEDBYTES = piece('","truncatedBytes":"');
const P_COMMA = piece(',');
const P_AGENT = piece(',"agent":"');
const P_CONNID = piece(',"connId":"');
const P_INBOUND = piece(',"inbound":');
const P_IPBYTES = piece(',"ipBytes":');
const P_LOCAL = piece(',"local":');
const P_PATH = piece(',"path":');
const P_PID = piece(',"pid":');
const P_PORT = piece(',"port":');
const P_REQUESTNS = piece(',"requestNs":"');
const P_RESPONSE = piece(',"response":');
const P_SERVERFIRST = piece(',"serverFirst":');
const P_SUT = piece(',"sut":');
const P_TALKS = piece(',"talks":[');
const P_TID = piece(',"tid":"');
const P_VTID = piece(',"vtid":"');
const P_EMPTY_LIST_END = piece('[]}');
const P_COMPLETENESS = piece('],"completeness":');
const P_PRELUDES = piece('],"preludes":[');
const P_LIST_END = piece(']}');
const P_NULL = piece('null');
const P_OBJECT_CONNID = piece('{"connId":"');
const P_DROPPEDEVENTS = piece('{"droppedEvents":"');
const P_FAMILY = piece('{"family":"');
const P_INDEX = piece('{"index":');
const P_OBJECT_END = piece('}');
const P_LINE_END = piece('}\n');
const P_TRUE = piece('true');
const P_FALSE = piece('false');

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
 * encoding overwrites, so the caller copies them first.
 */
export function encodeSessionLineView(s: Session, newline = false): Buffer {
  out.begin();
  writeLine(out, s, newline);
  return out.view();
}

/**
 * The store's form (with its newline), written into target from `at` when it fits there: the
 * store's write buffer, so the line is not copied again. `inTarget` false: it did not fit, and
 * `line` is a view of a scratch buffer that the next encoding overwrites.
 */
export function encodeSessionLineAt(
  s: Session,
  target: Buffer,
  at: number,
): { inTarget: true; length: number } | { inTarget: false; line: Buffer } {
  out.begin(target, at);
  writeLine(out, s, true);
  return out.end();
}

function writeLine(w: LineWriter, s: Session, newline: boolean): void {
  try {
    w.piece(LINE_START);
    w.json(s.id);
    w.piece(P_SUT);
    w.json(s.sut);
    w.piece(P_PID);
    w.number(s.pid);
    w.piece(P_AGENT);
    w.piece(enumPiece(AgentKind, s.agent));
    w.piece(P_HOSTNAME);
    w.json(s.hostname);
    w.piece(P_VTID);
    w.decimal(s.vtid);
    w.piece(P_STARTEDNS);
    w.decimal(s.startedNs);
    w.piece(P_ENDEDNS);
    w.decimal(s.endedNs);
    w.piece(P_ENDREASON);
    w.piece(enumPiece(SessionEndReason, s.endReason));
    w.piece(P_REPLAYOF);
    w.json(s.replayOf);
    w.piece(P_INBOUND);
    if (s.inbound) writeInbound(w, s.inbound);
    else w.piece(P_NULL);
    w.piece(P_TALKS);
    for (let i = 0; i < s.talks.length; i++) {
      if (i > 0) w.piece(P_COMMA);
      writeTalk(w, s.talks[i]!);
    }
    w.piece(P_PRELUDES);
    for (let i = 0; i < s.preludes.length; i++) {
      if (i > 0) w.piece(P_COMMA);
      writePrelude(w, s.preludes[i]!);
    }
    w.piece(P_COMPLETENESS);
    if (s.completeness) writeCompleteness(w, s.completeness);
    else w.piece(P_NULL);
    w.piece(newline ? P_LINE_END : P_OBJECT_END);
  } catch (err) {
    w.abandon(); // the next line starts clean
    throw err;
  }
}

function writeInbound(w: LineWriter, i: Inbound): void {
  w.piece(P_OBJECT_CONNID);
  w.decimal(i.connId);
  w.piece(P_PEER);
  writeAddress(w, i.peer);
  w.piece(P_LOCAL);
  writeAddress(w, i.local);
  writeExchange(w, i);
}

function writeTalk(w: LineWriter, t: Talk): void {
  w.piece(P_INDEX);
  w.number(t.index);
  w.piece(P_CONNID);
  w.decimal(t.connId);
  w.piece(P_TRANSPORT);
  w.piece(enumPiece(Transport, t.transport));
  w.piece(P_PEER);
  writeAddress(w, t.peer);
  w.piece(P_LOCAL);
  writeAddress(w, t.local);
  w.piece(P_TID);
  w.decimal(t.tid);
  w.piece(P_ONEWAY);
  w.piece(t.oneWay ? P_TRUE : P_FALSE);
  writeExchange(w, t);
}

/** The fields an inbound exchange and a talk share, which end both objects. */
function writeExchange(w: LineWriter, x: Inbound | Talk): void {
  w.piece(P_REQUESTNS);
  w.decimal(x.requestNs);
  w.piece(P_RESPONSENS);
  w.decimal(x.responseNs);
  w.piece(P_REQUESTLEN);
  w.decimal(x.requestLen);
  w.piece(P_RESPONSELEN);
  w.decimal(x.responseLen);
  w.piece(P_REQUEST);
  w.bytes(x.request);
  w.piece(P_RESPONSE);
  w.bytes(x.response);
  w.piece(P_OBJECT_END);
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
  w.piece(P_OBJECT_CONNID);
  w.decimal(p.connId);
  w.piece(P_TRANSPORT);
  w.piece(enumPiece(Transport, p.transport));
  w.piece(P_PEER);
  writeAddress(w, p.peer);
  w.piece(P_SERVERFIRST);
  w.piece(p.serverFirst ? P_TRUE : P_FALSE);
  w.piece(P_TALKS);
  for (let i = 0; i < p.talks.length; i++) {
    if (i > 0) w.piece(P_COMMA);
    writePreludeTalk(w, p.talks[i]!);
  }
  w.piece(P_LIST_END);
}

function writeCompleteness(w: LineWriter, c: Completeness): void {
  w.piece(P_DROPPEDEVENTS);
  w.decimal(c.droppedEvents);
  w.piece(P_TRUNCATEDBYTES);
  w.decimal(c.truncatedBytes);
  w.piece(P_SEQGAPS);
  w.decimal(c.seqGaps);
  w.piece(P_NOTES);
  if (c.notes.length === 0) w.piece(P_EMPTY_LIST_END);
  else {
    w.json(c.notes);
    w.piece(P_OBJECT_END);
  }
}

/** A connection's addresses are one object in every talk on it: their bytes are built once. */
const addressBytes = new WeakMap<Address, { built: Address; bytes: Buffer }>();

function writeAddress(w: LineWriter, a: Address | undefined): void {
  if (!a) return w.piece(P_NULL);
  const c = addressBytes.get(a);
  if (c !== undefined && sameAddress(c.built, a)) return w.raw(c.bytes);
  const from = w.mark();
  writeAddressFields(w, a);
  addressBytes.set(a, { built: { ...a }, bytes: w.copyFrom(from) });
}

function writeAddressFields(w: LineWriter, a: Address): void {
  w.piece(P_FAMILY);
  w.piece(enumPiece(AddressFamily, a.family));
  w.piece(P_QUOTE);
  if (a.ip.length > 0) {
    const text = ipMatchesFamily(a) ? formatIp(a.ip) : undefined;
    // An ip whose length does not fit the family is kept as raw bytes so nothing is lost.
    if (text !== undefined) w.ascii(',"ip":"' + text + '"');
    else {
      w.piece(P_IPBYTES);
      w.bytes(a.ip);
    }
  }
  if (a.port !== 0 || a.family === AddressFamily.ADDRESS_FAMILY_INET || a.family === AddressFamily.ADDRESS_FAMILY_INET6) {
    w.piece(P_PORT);
    w.number(a.port);
  }
  if (a.path !== '') {
    w.piece(P_PATH);
    w.json(a.path);
  }
  w.piece(P_OBJECT_END);
}

function ipMatchesFamily(a: Address): boolean {
  return (
    (a.family === AddressFamily.ADDRESS_FAMILY_INET && a.ip.length === 4) ||
    (a.family === AddressFamily.ADDRESS_FAMILY_INET6 && a.ip.length === 16)
  );
}

const enumPieces = new Map<object, Piece[]>();

/** enumName as a piece, built once per value (values past a small range are built each time). */
function enumPiece(e: Record<string, string | number>, value: number): Piece {
  let pieces = enumPieces.get(e);
  if (pieces === undefined) enumPieces.set(e, (pieces = []));
  if (!(value >= 0 && value < 64)) return piece(enumName(e, value));
  return (pieces[value] ??= piece(enumName(e, value)));
}

/** The enum value's name; an unknown number (a newer schema) survives as its number. */
function enumName(e: Record<string, string | number>, value: number): string {
  const name = e[value];
  return typeof name === 'string' && name !== 'UNRECOGNIZED' ? name : String(value);
}
