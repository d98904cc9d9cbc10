import { isUtf8 } from 'node:buffer';
import { endianness } from 'node:os';

/** Bytes in `"..."` of a JSON string need escaping when not 0; the value is the escape's letter. */
const ESCAPE = new Uint8Array(256);
ESCAPE[0x22] = 0x22; // "
ESCAPE[0x5c] = 0x5c; // \
ESCAPE[0x0a] = 0x6e; // n
ESCAPE[0x0d] = 0x72; // r
ESCAPE[0x09] = 0x74; // t

/**
 * What the text scan does with a byte, in one load: 0 copies it, an escape letter escapes it,
 * CONTROL makes the payload base64, HIGH hands over to the UTF-8 check. One table lookup and one
 * comparison per ordinary byte: this loop is most of what encoding a payload costs.
 */
const CONTROL = 0xff;
const HIGH = 0xfe;
const TEXT_CLASS = new Uint8Array(256);
for (let c = 0; c < 256; c++) TEXT_CLASS[c] = ESCAPE[c] !== 0 ? ESCAPE[c]! : c < 0x20 || c === 0x7f ? CONTROL : c >= 0x80 ? HIGH : 0;

const B64 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'latin1');
/** Payloads longer than this go through Node's native base64 (a call costs more than a short JS loop). */
const NATIVE_BASE64_FROM = 1024;
const SCRATCH_BYTES = 64 * 1024;
const SCRATCH_KEEP_MAX = 1024 * 1024;
const TWO_TO_64N = 1n << 64n;
/** Where decimal() takes a bigint apart without allocating: one 64-bit slot seen as two 32-bit halves. */
const halves = new ArrayBuffer(8);
const u64 = new BigUint64Array(halves);
const u32 = new Uint32Array(halves);
const LO = endianness() === 'LE' ? 0 : 1;
const HI = 1 - LO;
/** The tens and ones digit of 0..99, as ASCII. */
const TENS = new Uint8Array(100);
const ONES = new Uint8Array(100);
for (let i = 0; i < 100; i++) {
  TENS[i] = 0x30 + Math.floor(i / 10);
  ONES[i] = 0x30 + (i % 10);
}

function viewOf(b: Buffer): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * A constant piece of a line (a key with its punctuation), encoded once. Written four bytes at a
 * time: copying a short string a character at a time (charCodeAt, one store each) was the
 * encoder's largest single cost, ~85 pieces a session.
 */
export interface Piece {
  readonly length: number;
  /** The first length & ~3 bytes as little-endian words. */
  readonly words: Int32Array;
  readonly tail: Uint8Array;
}

export function piece(text: string): Piece {
  if (!/^[\x20-\x7e\n]*$/.test(text)) throw new Error(`a line piece must be printable ASCII: ${JSON.stringify(text)}`);
  const b = Buffer.from(text, 'latin1');
  const words = new Int32Array(b.length >> 2);
  for (let i = 0; i < words.length; i++) words[i] = b.readInt32LE(i * 4);
  return { length: b.length, words, tail: new Uint8Array(b.subarray(words.length * 4)) };
}

/**
 * A JSON line written straight into bytes: building it as a JS string cost more in turning the
 * string (a tree of concatenations) into UTF-8 than in building it. A line goes into the buffer
 * its caller names (`begin`), the store's write buffer, and moves to the writer's own scratch
 * buffer only if it outgrows it: a copy of every line from a scratch buffer into the store's
 * cost as much as a tenth of the encoding.
 */
export class LineWriter {
  private buf: Buffer = Buffer.allocUnsafe(SCRATCH_BYTES);
  private dv = viewOf(this.buf);
  private scratch: Buffer = this.buf;
  private scratchDv = this.dv;
  /** Where the current line starts in buf. */
  private start = 0;
  private pos = 0;

  /**
   * Starts a line at target[at]: it is written there while it fits (`end` says whether it did).
   * With no target, the line starts in the scratch buffer.
   */
  begin(target?: Buffer, at = 0): void {
    if (target === undefined || at >= target.length) {
      this.setBuf(this.scratch);
      this.start = this.pos = 0;
      return;
    }
    this.setBuf(target);
    this.start = this.pos = at;
  }

  /**
   * Ends the line. `inTarget`: it is in the begin() target, `length` bytes from `at`. Otherwise
   * `line` is a view of the scratch buffer, valid until the next line is begun.
   */
  end(): { inTarget: true; length: number } | { inTarget: false; line: Buffer } {
    const length = this.pos - this.start;
    if (this.buf !== this.scratch) {
      this.setBuf(this.scratch);
      this.start = this.pos = 0;
      return { inTarget: true, length };
    }
    return { inTarget: false, line: this.view() };
  }

  /** Abandons the line (after a failed encoding) so the next starts clean. */
  abandon(): void {
    this.setBuf(this.scratch);
    this.start = this.pos = 0;
  }

  piece(k: Piece): void {
    const n = k.length;
    if (this.pos + n > this.buf.length) this.grow(n);
    const dv = this.dv;
    let pos = this.pos;
    const words = k.words;
    for (let i = 0; i < words.length; i++) {
      dv.setInt32(pos, words[i]!, true);
      pos += 4;
    }
    const tail = k.tail;
    const buf = this.buf;
    for (let i = 0; i < tail.length; i++) buf[pos++] = tail[i]!;
    this.pos = pos;
  }

  /** The last target and its view: the store fills one write buffer with many lines. */
  private target: { buf: Buffer; dv: DataView } | undefined;

  private setBuf(b: Buffer): void {
    if (this.buf === b) return;
    if (this.buf === this.scratch) this.scratchDv = this.dv;
    this.buf = b;
    if (b === this.scratch && this.scratchDv.buffer === b.buffer && this.scratchDv.byteOffset === b.byteOffset) this.dv = this.scratchDv;
    else if (b === this.target?.buf) this.dv = this.target.dv;
    else {
      this.dv = viewOf(b);
      if (b !== this.scratch) this.target = { buf: b, dv: this.dv };
    }
  }

  /** A string known to be ASCII (keys, digits, enum names). */
  ascii(s: string): void {
    const n = s.length;
    if (this.pos + n > this.buf.length) this.grow(n);
    // Short pieces (nearly all) cost less in JS than a call into native code.
    if (n > 256) {
      this.pos += this.buf.write(s, this.pos, 'latin1');
      return;
    }
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < n; i++) buf[pos++] = s.charCodeAt(i);
    this.pos = pos;
  }

  /**
   * A bigint in decimal, as its toString() gives it, without making a string. Its 64 bits are
   * read through a typed array (Number(v) and a DataView cost half as much again: ~30 of these a
   * session were a ninth of the gateway's assembly instructions); values outside [0, 2^64) take
   * toString(), none occur in practice.
   */
  decimal(v: bigint): void {
    if (v < 0n || v >= TWO_TO_64N) return this.ascii(v.toString());
    u64[0] = v;
    const hi = u32[HI]!;
    const lo = u32[LO]!;
    if (hi === 0) this.integer(lo);
    else if (hi < 0x200000) this.integer(hi * 4294967296 + lo); // below 2^53: exact as a number
    else this.uint64(lo, hi);
  }

  /** A number as JSON.stringify writes it (non-finite values become null). */
  number(n: number): void {
    if (Number.isSafeInteger(n)) this.integer(n);
    else this.ascii(Number.isFinite(n) ? String(n) : 'null');
  }

  /**
   * A uint64 past 2^53 (nanosecond timestamps, ten a session) without making a string: its two
   * 32-bit halves, as numbers, split into three base-10^7 digits, each exact in a double (the
   * method of protobuf's uInt64ToString).
   */
  private uint64(lo: number, hi: number): void {
    const low = lo & 0xffffff;
    const mid = ((lo >>> 24) | (hi << 8)) & 0xffffff;
    const high = (hi >>> 16) & 0xffff;
    let a = low + mid * 6777216 + high * 6710656;
    let b = mid + high * 8147497;
    let c = high * 2;
    if (a >= 1e7) {
      b += Math.floor(a / 1e7);
      a %= 1e7;
    }
    if (b >= 1e7) {
      c += Math.floor(b / 1e7);
      b %= 1e7;
    }
    // v > 2^53 puts the leading digits in c (c >= 90): b and a are written with their zeros.
    this.integer(c);
    this.padded7(b);
    this.padded7(a);
  }

  /** A safe integer's decimal digits, written in place, two per division. */
  private integer(n: number): void {
    if (n < 0) {
      if (this.pos + 1 > this.buf.length) this.grow(1);
      this.buf[this.pos++] = 0x2d; // -
      n = -n;
    }
    if (n > 0x7fffffff) {
      // Past int32: the digits above the last seven first, so the arithmetic below stays in int32.
      const high = Math.floor(n / 1e7);
      this.integer(high);
      this.padded7(n - high * 1e7);
      return;
    }
    if (this.pos + 10 > this.buf.length) this.grow(10);
    const buf = this.buf;
    const digits = n < 1e4 ? (n < 10 ? 1 : n < 100 ? 2 : n < 1e3 ? 3 : 4) : n < 1e6 ? (n < 1e5 ? 5 : 6) : n < 1e7 ? 7 : n < 1e8 ? 8 : n < 1e9 ? 9 : 10;
    let pos = this.pos + digits;
    this.pos = pos;
    // (x / 100) | 0 on an int32 compiles to a multiplication; Math.floor(x / 100) to a division.
    while (n >= 100) {
      const q = (n / 100) | 0;
      const r = n - q * 100;
      buf[--pos] = ONES[r]!;
      buf[--pos] = TENS[r]!;
      n = q;
    }
    if (n >= 10) {
      buf[--pos] = ONES[n]!;
      buf[--pos] = TENS[n]!;
    } else buf[--pos] = 0x30 + n;
  }

  /** n < 10^7 as exactly seven digits. */
  private padded7(n: number): void {
    if (this.pos + 7 > this.buf.length) this.grow(7);
    const buf = this.buf;
    const p = this.pos;
    let q = (n / 100) | 0;
    let r = n - q * 100;
    buf[p + 5] = TENS[r]!;
    buf[p + 6] = ONES[r]!;
    n = q;
    q = (n / 100) | 0;
    r = n - q * 100;
    buf[p + 3] = TENS[r]!;
    buf[p + 4] = ONES[r]!;
    n = q;
    q = (n / 100) | 0;
    r = n - q * 100;
    buf[p + 1] = TENS[r]!;
    buf[p + 2] = ONES[r]!;
    buf[p] = 0x30 + q;
    this.pos = p + 7;
  }

  /** A string or a list of strings exactly as JSON.stringify writes it, UTF-8 encoded. */
  json(v: string | readonly string[]): void {
    if (typeof v === 'string' && this.plainAscii(v)) return;
    const text = JSON.stringify(v);
    if (this.pos + text.length * 3 > this.buf.length) this.grow(text.length * 3);
    this.pos += this.buf.write(text, this.pos, 'utf8');
  }

  /**
   * Writes `"v"` if v is printable ASCII needing no escape (ids, names: nearly every string here),
   * which JSON.stringify would write as it is; reports false, having written nothing, otherwise.
   */
  private plainAscii(v: string): boolean {
    const n = v.length;
    if (n > 256) return false;
    if (this.pos + n + 2 > this.buf.length) this.grow(n + 2);
    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = 0x22;
    for (let i = 0; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
      buf[pos++] = c;
    }
    buf[pos++] = 0x22;
    this.pos = pos;
    return true;
  }

  raw(b: Uint8Array): void {
    if (this.pos + b.length > this.buf.length) this.grow(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** The bytes written since `from` (a mark from `mark()`), copied. */
  copyFrom(from: number): Buffer {
    return Buffer.from(this.buf.subarray(this.start + from, this.pos));
  }

  /** Where the line has got to (relative to its start, so a move to the scratch buffer keeps it). */
  mark(): number {
    return this.pos - this.start;
  }

  /**
   * The line so far, not copied: valid only until the next write, which reuses the bytes. The
   * store copies lines into its own write buffers; a copy of every line here, then another into
   * the write, cost the recording gateway more than the encoding (allocation, page faults, GC).
   */
  view(): Buffer {
    if (this.buf !== this.scratch) {
      // A line begun in a target: handed out from the scratch buffer, as the caller expects.
      this.grow(0);
    }
    const out = this.buf.subarray(0, this.pos);
    this.pos = 0;
    // One huge session must not pin its size in memory for the life of the process (the view
    // keeps the big buffer alive only as long as the caller holds it).
    if (this.buf.length > SCRATCH_KEEP_MAX) this.setBuf((this.scratch = Buffer.allocUnsafe(SCRATCH_BYTES)));
    return out;
  }

  /**
   * Bytes as `{"text":"..."}` when valid UTF-8 with no control characters but \t \n \r (C1 ones
   * included), else `{"base64":"..."}`: docs/session-format.md. Text bytes are copied as they
   * are, escaped where JSON.stringify of the decoded text would escape (only " \ \n \r \t can
   * occur), which gives the same bytes as encoding that string.
   */
  bytes(b: Uint8Array): void {
    const n = b.length;
    if (n === 0) return this.ascii('{"text":""}');
    if (this.pos + 11 + 2 * n > this.buf.length) this.grow(11 + 2 * n);
    const start = this.pos;
    const buf = this.buf;
    let pos = start;
    // {"text":"
    buf[pos++] = 0x7b; buf[pos++] = 0x22; buf[pos++] = 0x74; buf[pos++] = 0x65; buf[pos++] = 0x78; buf[pos++] = 0x74; // {"text
    buf[pos++] = 0x22; buf[pos++] = 0x3a; buf[pos++] = 0x22; // ":"
    // One pass checks and copies the ASCII part (nearly all text payloads are all ASCII).
    let i = 0;
    for (; i < n; i++) {
      const c = b[i]!;
      const k = TEXT_CLASS[c]!;
      if (k === 0) buf[pos++] = c;
      else if (k < HIGH) {
        buf[pos++] = 0x5c;
        buf[pos++] = k;
      } else if (k === CONTROL) {
        // A byte below 0x80 stands for itself in UTF-8, so a control byte is never readable text.
        this.pos = start;
        return this.base64(b);
      } else break;
    }
    if (i < n) {
      if (!readableUtf8(b, i)) {
        this.pos = start;
        return this.base64(b);
      }
      for (; i < n; i++) {
        const c = b[i]!;
        const e = ESCAPE[c]!;
        if (e === 0) buf[pos++] = c;
        else {
          buf[pos++] = 0x5c;
          buf[pos++] = e;
        }
      }
    }
    buf[pos++] = 0x22;
    buf[pos++] = 0x7d;
    this.pos = pos;
  }

  private base64(b: Uint8Array): void {
    const n = b.length;
    if (n >= NATIVE_BASE64_FROM) {
      const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, n);
      this.ascii('{"base64":"');
      this.ascii(buf.toString('base64'));
      return this.ascii('"}');
    }
    const need = 14 + 4 * Math.ceil(n / 3);
    if (this.pos + need > this.buf.length) this.grow(need);
    const buf = this.buf;
    let pos = this.pos;
    // {"base64":"
    buf[pos++] = 0x7b; buf[pos++] = 0x22; buf[pos++] = 0x62; buf[pos++] = 0x61; buf[pos++] = 0x73; buf[pos++] = 0x65; // {"base
    buf[pos++] = 0x36; buf[pos++] = 0x34; buf[pos++] = 0x22; buf[pos++] = 0x3a; buf[pos++] = 0x22; // 64":"
    let i = 0;
    for (; i + 2 < n; i += 3) {
      const v = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
      buf[pos++] = B64[v >> 18]!;
      buf[pos++] = B64[(v >> 12) & 63]!;
      buf[pos++] = B64[(v >> 6) & 63]!;
      buf[pos++] = B64[v & 63]!;
    }
    if (i < n) {
      const two = i + 1 < n;
      const v = (b[i]! << 16) | (two ? b[i + 1]! << 8 : 0);
      buf[pos++] = B64[v >> 18]!;
      buf[pos++] = B64[(v >> 12) & 63]!;
      buf[pos++] = two ? B64[(v >> 6) & 63]! : 0x3d;
      buf[pos++] = 0x3d;
    }
    buf[pos++] = 0x22;
    buf[pos++] = 0x7d;
    this.pos = pos;
  }

  /** Room for `need` more bytes: the line so far moves to a (bigger) scratch buffer. */
  private grow(need: number): void {
    const len = this.pos - this.start;
    let next = this.scratch;
    if (this.buf === this.scratch || len + need > next.length) next = Buffer.allocUnsafe(Math.max(next.length * 2, len + need));
    this.buf.copy(next, 0, this.start, this.pos);
    this.scratch = next;
    this.setBuf(next);
    this.start = 0;
    this.pos = len;
  }
}

/**
 * Valid UTF-8 holding no control character but \t \n \r (C0 ones, DEL, and C1: U+0080..U+009F),
 * given that b[0, from) is readable ASCII: a character boundary, so only the rest needs checking.
 */
function readableUtf8(b: Uint8Array, from: number): boolean {
  if (!isUtf8(b.subarray(from))) return false;
  for (let i = from; i < b.length; i++) {
    const c = b[i]!;
    if (c < 0x20 ? c !== 0x0a && c !== 0x0d && c !== 0x09 : c === 0x7f) return false;
    // In valid UTF-8, C1 controls are exactly C2 80..C2 9F.
    if (c === 0xc2 && b[i + 1]! < 0xa0) return false;
  }
  return true;
}
