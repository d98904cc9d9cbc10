/**
 * A faster decoder for the one message the gateway reads in bulk: AgentMessage carrying an
 * EventBatch. The ts-proto decoder allocates a BinaryReader, bookkeeping for its recursion limit
 * and a fresh empty Buffer per message and address; under load, decoding was a large share of the
 * ingest CPU. This reads the wire format directly into the same `Event` objects.
 *
 * It only takes the encodings agents actually produce (each known field with its declared wire
 * type, lengths in bounds). Anything else (unknown fields, groups, truncation, a hello) goes to
 * the generated decoder, which stays the reference for both the result and the error: for any
 * input both return equal messages or the generated one throws.
 */
import { AgentMessage, type Address, type Event } from '../generated/koala/v1/agent.pb.js';

/** The generated decoder's verdict is needed: this input is not in the fast path's subset. */
class NotFast extends Error {}
const NOT_FAST = new NotFast();

const scratch = new DataView(new ArrayBuffer(8));
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
const EMPTY = Buffer.alloc(0);

let buf: Uint8Array = EMPTY;
let pos = 0;
// The last 64-bit varint read, as two unsigned 32-bit halves.
let lo = 0;
let hi = 0;

function varint(): void {
  let b = buf[pos++] as number;
  let l = b & 0x7f;
  if (b < 0x80) {
    lo = l;
    hi = 0;
    return;
  }
  for (let shift = 7; shift < 28; shift += 7) {
    b = buf[pos++] as number;
    l |= (b & 0x7f) << shift;
    if (b < 0x80) {
      lo = l >>> 0;
      hi = 0;
      return;
    }
  }
  b = buf[pos++] as number;
  l |= (b & 0x0f) << 28;
  let h = (b & 0x7f) >> 4;
  if (b < 0x80) {
    lo = l >>> 0;
    hi = h;
    return;
  }
  for (let shift = 3; shift <= 31; shift += 7) {
    b = buf[pos++] as number;
    h |= (b & 0x7f) << shift;
    if (b < 0x80) {
      lo = l >>> 0;
      hi = h >>> 0;
      return;
    }
  }
  // Past the buffer's end every byte reads as undefined (not < 0x80): also lands here.
  throw NOT_FAST;
}

function u64(): bigint {
  varint();
  if (hi === 0) return BigInt(lo);
  scratch.setUint32(0, lo, true);
  scratch.setUint32(4, hi, true);
  return scratch.getBigUint64(0, true);
}

function i64(): bigint {
  varint();
  if (hi === 0) return BigInt(lo);
  scratch.setUint32(0, lo, true);
  scratch.setUint32(4, hi, true);
  return scratch.getBigInt64(0, true);
}

function i32(): number {
  varint();
  return lo | 0;
}

function u32(): number {
  varint();
  return lo;
}

/** The end of a length-delimited field starting at pos. */
function lenEnd(end: number): number {
  varint();
  if (hi !== 0 || pos + lo > end) throw NOT_FAST;
  return pos + lo;
}

/**
 * A copy, as the generated decoder makes: an event's bytes may live as long as its connection (a
 * prelude), and a view would keep the whole batch alive. Small copies come from Node's pool.
 * Empty fields share one zero-length Buffer, which nothing can write into.
 */
function bytes(end: number): Buffer {
  const e = lenEnd(end);
  if (e === pos) return EMPTY;
  const out = Buffer.allocUnsafe(e - pos);
  out.set(buf.subarray(pos, e));
  pos = e;
  return out;
}

function address(end: number): Address {
  const e = lenEnd(end);
  const a: Address = { family: 0, ip: EMPTY, port: 0, path: '' };
  while (pos < e) {
    const tag = u32();
    switch (tag) {
      case 8: a.family = i32(); break;
      case 18: a.ip = bytes(e); break;
      case 24: a.port = u32(); break;
      case 34: {
        const se = lenEnd(e);
        a.path = se === pos ? '' : utf8.decode(buf.subarray(pos, se));
        pos = se;
        break;
      }
      default: throw NOT_FAST;
    }
  }
  if (pos !== e) throw NOT_FAST;
  return a;
}

function event(end: number): Event {
  const e = lenEnd(end);
  const ev: Event = {
    seq: 0n, tsNs: 0n, tid: 0n, vtid: 0n, kind: 0, connId: 0n, fd: 0, socketType: 0,
    local: undefined, peer: undefined, originalDst: undefined, payload: EMPTY, payloadLen: 0n,
    flags: 0n, droppedEvents: 0n, droppedBytes: 0n, parentTid: 0n, listenConnId: 0n, errno: 0,
  };
  while (pos < e) {
    const tag = u32();
    switch (tag) {
      case 8: ev.seq = u64(); break;
      case 16: ev.tsNs = u64(); break;
      case 24: ev.tid = i64(); break;
      case 32: ev.vtid = i64(); break;
      case 40: ev.kind = i32(); break;
      case 48: ev.connId = u64(); break;
      case 56: ev.fd = i32(); break;
      case 64: ev.socketType = i32(); break;
      case 74: ev.local = address(e); break;
      case 82: ev.peer = address(e); break;
      case 90: ev.originalDst = address(e); break;
      case 98: ev.payload = bytes(e); break;
      case 104: ev.payloadLen = u64(); break;
      case 112: ev.flags = i64(); break;
      case 120: ev.droppedEvents = u64(); break;
      case 128: ev.droppedBytes = u64(); break;
      case 136: ev.parentTid = i64(); break;
      case 144: ev.listenConnId = u64(); break;
      case 152: ev.errno = i32(); break;
      default: throw NOT_FAST;
    }
  }
  if (pos !== e) throw NOT_FAST;
  return ev;
}

function batchMessage(): AgentMessage | undefined {
  const end = buf.length;
  let msg: AgentMessage | undefined;
  while (pos < end) {
    // Field 2 (batch), length-delimited; the fast path takes exactly one batch and nothing else.
    if (buf[pos] !== 18 || msg !== undefined) throw NOT_FAST;
    pos++;
    const be = lenEnd(end);
    const events: Event[] = [];
    while (pos < be) {
      // Field 1 (events), length-delimited.
      if (buf[pos] !== 10) throw NOT_FAST;
      pos++;
      events.push(event(be));
    }
    if (pos !== be) throw NOT_FAST;
    msg = { body: { $case: 'batch', value: { events } } };
  }
  return msg;
}

/** Decodes an AgentMessage exactly as AgentMessage.decode does (same result, same errors). */
export function decodeAgentMessageBytes(input: Uint8Array): AgentMessage {
  if (input.length > 0 && input[0] === 18) {
    buf = input;
    pos = 0;
    try {
      const msg = batchMessage();
      if (msg !== undefined) return msg;
    } catch (err) {
      if (!(err instanceof NotFast)) throw err;
    } finally {
      buf = EMPTY;
    }
  }
  return AgentMessage.decode(input);
}
