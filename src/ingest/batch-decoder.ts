/**
 * The events of an AgentMessage{batch}, decoded by hand for the recording gateway's hot path. The
 * generated decoder (ts-proto) gave every event a fresh empty Buffer for an absent payload, a view
 * and then a copy of every present one, and a property write per nested message (its recursion
 * guard); decoding was half of what the assembly thread allocated, and the garbage collector's
 * threads cost the gateway about as much as decoding itself.
 *
 * It accepts only the plain form agents write: one batch field filling the message, events made of
 * known fields with their declared wire types. At anything else (an unknown field, a repeated
 * batch field, a truncated or malformed message) it stops, and the caller decodes with the
 * generated code, whose result or error stands. Where it does decode, the events are equal,
 * field for field, to the generated decoder's (test/ingest/batch-decoder.test.ts compares the two
 * on random and corrupted input).
 */
import { endianness } from 'node:os';
import { getTextEncoding } from '@bufbuild/protobuf/wire';
import type { Address, Event } from '../generated/koala/v1/agent.pb.js';

/** Payloads absent from the wire share one empty Buffer (zero bytes: nothing to change in it). */
const EMPTY = Buffer.alloc(0);
/** One 64-bit slot seen as two 32-bit halves: a BigInt from a varint's halves without a DataView (a third of the instructions). */
const slot = new ArrayBuffer(8);
const slotU32 = new Uint32Array(slot);
const slotU64 = new BigUint64Array(slot);
const slotI64 = new BigInt64Array(slot);
const LO = endianness() === 'LE' ? 0 : 1;
const HI = 1 - LO;

/** Recently decoded recurring values, direct-mapped by their bits (see Cursor.recurring). */
const CACHE_SLOTS = 1024;
const cacheLo = new Int32Array(CACHE_SLOTS);
const cacheHi = new Int32Array(CACHE_SLOTS);
const cacheValue: bigint[] = new Array<bigint>(CACHE_SLOTS).fill(0n);

/** Decoding gave up: the caller falls back to the generated decoder. */
class Unusual extends Error {}
const UNUSUAL = new Unusual();

/** The reader's position and the 64-bit varint just read, as two 32-bit halves. */
class Cursor {
  pos = 0;
  lo = 0;
  hi = 0;
  constructor(readonly buf: Buffer) {}

  /** A varint into lo/hi; at most 10 bytes, within end. */
  varint(end: number): void {
    const b = this.buf;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    let shift = 0;
    let byte: number;
    // Bytes 1-4 fill lo's low 28 bits.
    do {
      if (pos >= end) throw UNUSUAL;
      byte = b[pos++]!;
      lo |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80 && shift < 28);
    if (byte & 0x80) {
      // Byte 5: 4 bits to lo, 3 to hi.
      if (pos >= end) throw UNUSUAL;
      byte = b[pos++]!;
      lo |= (byte & 0x0f) << 28;
      hi = (byte & 0x70) >> 4;
      shift = 3;
      while (byte & 0x80) {
        if (pos >= end || shift > 31) throw UNUSUAL;
        byte = b[pos++]!;
        hi |= (byte & 0x7f) << shift;
        shift += 7;
      }
    }
    this.pos = pos;
    this.lo = lo;
    this.hi = hi;
  }

  uint32(end: number): number {
    this.varint(end);
    return this.lo >>> 0;
  }

  int32(end: number): number {
    this.varint(end);
    return this.lo | 0;
  }

  /**
   * `recurs`: for ids that recur from event to event (thread, goroutine, connection ids,
   * lengths), the same value comes back as the same BigInt. A BigInt is a heap object, and these
   * fields were most of the garbage the decoder made; timestamps and sequence numbers, unique
   * per event, do not go through the cache.
   */
  uint64(end: number, recurs = false): bigint {
    this.varint(end);
    return recurs ? this.recurring(false) : this.bigint(false);
  }

  int64(end: number, recurs = false): bigint {
    this.varint(end);
    return recurs ? this.recurring(true) : this.bigint(true);
  }

  private recurring(signed: boolean): bigint {
    const lo = this.lo;
    const hi = this.hi;
    if ((lo | hi) === 0) return 0n;
    // With the top bit clear a value reads the same signed or not, so one cache serves both.
    if (hi < 0) return this.bigint(signed);
    const slot = (lo ^ (lo >>> 10) ^ (hi * 0x9e37)) & (CACHE_SLOTS - 1);
    if (cacheLo[slot] === lo && cacheHi[slot] === hi) return cacheValue[slot]!;
    const v = this.bigint(signed);
    cacheLo[slot] = lo;
    cacheHi[slot] = hi;
    cacheValue[slot] = v;
    return v;
  }

  /** The varint just read as a 64-bit value (BigInt(n) costs seven times as much as the typed arrays). */
  private bigint(signed: boolean): bigint {
    if ((this.lo | this.hi) === 0) return 0n;
    slotU32[LO] = this.lo;
    slotU32[HI] = this.hi;
    return signed ? slotI64[0]! : slotU64[0]!;
  }

  /** A length prefix; returns where the field's bytes end. */
  length(end: number): number {
    const len = this.uint32(end);
    const stop = this.pos + len;
    if (stop > end) throw UNUSUAL;
    return stop;
  }

  /** A copy of the bytes up to stop (a view would keep the whole batch alive with the payload). */
  copy(stop: number): Buffer {
    const n = stop - this.pos;
    if (n === 0) return Buffer.alloc(0);
    const out = Buffer.allocUnsafe(n);
    this.buf.copy(out, 0, this.pos, stop);
    this.pos = stop;
    return out;
  }
}

/** The events of an AgentMessage{batch}, or undefined where the generated decoder must decide. */
export function decodeBatchEvents(frame: Uint8Array): Event[] | undefined {
  const events: Event[] = [];
  return forEachBatchEvent(frame, (e) => events.push(e)).complete ? events : undefined;
}

/** How far forEachBatchEvent got through a frame. */
export interface BatchProgress {
  /** Events handed to `apply`, in order. */
  applied: number;
  /** Every event of the frame was applied; false: the generated decoder must decide on the rest. */
  complete: boolean;
}

/**
 * Decodes an AgentMessage{batch} in one pass, handing each event to `apply` as soon as it is
 * decoded: the assembler holds one decoded event at a time, not a whole batch (what a young
 * collection finds alive, and must copy, is what it costs), and the frame is read once (a pass
 * that checked the whole batch first cost the gateway a twelfth of its instructions).
 *
 * An event this decoder does not take (an unknown field, another wire type, damage) stops it
 * before that event is applied, with `complete` false. The events applied are those the generated
 * decoder finds first, field for field (events are elements of a repeated field: nothing later in
 * the frame changes them), so the caller has it decode the frame and applies the events after
 * them; or, where it refuses the frame, has what was whole before the damage.
 */
export function forEachBatchEvent(frame: Uint8Array, apply: (e: Event) => void): BatchProgress {
  const c = cursorOn(frame);
  const end = frame.byteLength;
  let applied = 0;
  try {
    if (!batchHeader(c, end)) return { applied, complete: false };
    while (c.pos < end) {
      c.varint(end);
      if (c.lo !== 0x0a || c.hi !== 0) return { applied, complete: false };
      apply(decodeEvent(c, c.length(end)));
      applied++;
    }
    return { applied, complete: true };
  } catch (err) {
    if (err === UNUSUAL) return { applied, complete: false };
    throw err;
  }
}

/** Whether a frame starts as the plain form does: one batch field that fills the whole message. */
export function plainBatchHeader(frame: Uint8Array): boolean {
  try {
    return batchHeader(cursorOn(frame), frame.byteLength);
  } catch (err) {
    if (err === UNUSUAL) return false;
    throw err;
  }
}

/** Reads the frame's start: a batch field (2, length-delimited) that fills the whole message. */
function batchHeader(c: Cursor, end: number): boolean {
  if (end === 0 || c.buf[0] !== 0x12) return false;
  c.pos = 1;
  return c.length(end) === end;
}

function cursorOn(frame: Uint8Array): Cursor {
  return new Cursor(Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
}

function decodeEvent(c: Cursor, end: number): Event {
  // The generated decoder's defaults, in its order (one object shape for every event).
  const e: Event = {
    seq: 0n, tsNs: 0n, tid: 0n, vtid: 0n, kind: 0, connId: 0n, fd: 0, socketType: 0,
    local: undefined, peer: undefined, originalDst: undefined, payload: EMPTY, payloadLen: 0n,
    flags: 0n, droppedEvents: 0n, droppedBytes: 0n, parentTid: 0n, listenConnId: 0n, errno: 0,
  };
  while (c.pos < end) {
    c.varint(end);
    if (c.hi !== 0) throw UNUSUAL;
    switch (c.lo) {
      case 8: e.seq = c.uint64(end); break;
      case 16: e.tsNs = c.uint64(end); break;
      case 24: e.tid = c.int64(end, true); break;
      case 32: e.vtid = c.int64(end, true); break;
      case 40: e.kind = c.int32(end); break;
      case 48: e.connId = c.uint64(end, true); break;
      case 56: e.fd = c.int32(end); break;
      case 64: e.socketType = c.int32(end); break;
      case 74: e.local = decodeAddress(c, c.length(end)); break;
      case 82: e.peer = decodeAddress(c, c.length(end)); break;
      case 90: e.originalDst = decodeAddress(c, c.length(end)); break;
      case 98: e.payload = c.copy(c.length(end)); break;
      case 104: e.payloadLen = c.uint64(end, true); break;
      case 112: e.flags = c.int64(end); break;
      case 120: e.droppedEvents = c.uint64(end); break;
      case 128: e.droppedBytes = c.uint64(end); break;
      case 136: e.parentTid = c.int64(end, true); break;
      case 144: e.listenConnId = c.uint64(end, true); break;
      case 152: e.errno = c.int32(end); break;
      default: throw UNUSUAL;
    }
  }
  return e;
}

function decodeAddress(c: Cursor, end: number): Address {
  const a: Address = { family: 0, ip: Buffer.alloc(0), port: 0, path: '' };
  while (c.pos < end) {
    c.varint(end);
    if (c.hi !== 0) throw UNUSUAL;
    switch (c.lo) {
      case 8: a.family = c.int32(end); break;
      case 18: a.ip = c.copy(c.length(end)); break;
      case 24: a.port = c.uint32(end); break;
      case 34: {
        const stop = c.length(end);
        a.path = getTextEncoding().decodeUtf8(c.buf.subarray(c.pos, stop));
        c.pos = stop;
        break;
      }
      default: throw UNUSUAL;
    }
  }
  return a;
}
