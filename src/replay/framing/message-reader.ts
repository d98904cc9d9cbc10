import type { Socket } from 'node:net';
import { takeMessages, type Framer } from './framer.js';

export type ReadEnd = 'framed' | 'idle' | 'eof' | 'timeout';

export interface ReadOptions {
  framer: Framer;
  /** Stop once this many whole messages have arrived (responses); undefined: stop when the
   * buffered bytes are whole messages and nothing partial follows (requests, pipelines). */
  expected?: number;
  /** The fallback gap that ends a message the framer cannot frame (KOALA_INBOUND_READ_TIMEOUT). */
  idleMs: number;
  /** Give up when no byte arrived by then; undefined waits as long as the peer keeps the connection. */
  firstByteTimeoutMs?: number;
  /** Give up when the message is not complete by then. */
  totalTimeoutMs?: number;
}

export interface ReadResult {
  bytes: Buffer;
  end: ReadEnd;
  /** Whole messages in `bytes` (0 when framing fell back). */
  count: number;
  /** ms from the call to the first byte, and to the end. */
  firstByteMs: number | undefined;
  elapsedMs: number;
}

/**
 * Reads framed messages from a socket. Bytes after a returned message stay buffered for the next
 * call. The idle gap applies only once the framer has said the bytes are not its protocol.
 */
export class MessageReader {
  /** Received bytes joined so far; `pending` arrived after the last join. */
  private joined: Buffer = Buffer.alloc(0);
  private pending: Buffer[] = [];
  /**
   * Our own backing store when `joined` lives in it (at `roomStart`), with room to append: a
   * chunked body is re-framed at every chunk end, and growing by doubling keeps the copying linear.
   */
  private room: Buffer | undefined;
  private roomStart = 0;
  private size = 0;
  private eof = false;
  private wake: (() => void) | undefined;

  constructor(socket: Socket) {
    socket.on('data', (d: Buffer) => {
      // Joined only when the framer must look: joining on every chunk copied a large message
      // over and over (quadratic).
      this.pending.push(d);
      this.size += d.length;
      this.notify();
    });
    const done = (): void => {
      this.eof = true;
      this.notify();
    };
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', done);
  }

  async read(opts: ReadOptions): Promise<ReadResult> {
    const start = Date.now();
    let firstByteMs: number | undefined = this.size > 0 ? 0 : undefined;
    let offset = 0;
    let count = 0;
    /** The framer said nothing can change before this many bytes are buffered. */
    let need = 0;
    let mode: 'framed' | 'idle' | 'close' = 'framed';
    const finish = (length: number, end: ReadEnd): ReadResult => {
      const all = this.join();
      let bytes = all.subarray(0, length);
      // A message handed out lives on in reports: it must not pin a store mostly made of slack.
      if (this.room !== undefined && this.room.length > 2 * length) bytes = Buffer.from(bytes);
      this.joined = all.subarray(length);
      this.size = this.joined.length;
      this.roomStart += length;
      if (this.size === 0) this.room = undefined;
      return { bytes, end, count: mode === 'framed' ? count : 0, firstByteMs, elapsedMs: Date.now() - start };
    };
    for (;;) {
      if (mode === 'framed' && this.size > offset && this.size >= need) {
        const buf = this.join();
        const taken = takeMessages(opts.framer, buf.subarray(offset), opts.expected === undefined ? Infinity : opts.expected - count);
        offset += taken.length;
        count += taken.count;
        const done = opts.expected !== undefined ? count >= opts.expected : count > 0 && offset === buf.length;
        if (done) return finish(opts.expected !== undefined ? offset : buf.length, 'framed');
        need = taken.rest.status === 'incomplete' && taken.rest.need !== undefined ? offset + taken.rest.need : 0;
        if (taken.rest.status === 'invalid') mode = 'idle';
        else if (taken.rest.status === 'until-close') mode = 'close';
      }
      if (this.eof) return finish(this.size, 'eof');
      const now = Date.now();
      const deadlines: Array<[number, ReadEnd]> = [];
      if (opts.totalTimeoutMs !== undefined) deadlines.push([start + opts.totalTimeoutMs, 'timeout']);
      if (this.size === 0 && opts.firstByteTimeoutMs !== undefined) {
        deadlines.push([start + opts.firstByteTimeoutMs, 'timeout']);
      }
      if (mode === 'idle' && this.size > 0) deadlines.push([now + opts.idleMs, 'idle']);
      deadlines.sort((a, b) => a[0] - b[0]);
      const first = deadlines[0];
      const before = this.size;
      const woke = await this.waitForData(first === undefined ? undefined : Math.max(0, first[0] - now));
      if (firstByteMs === undefined && this.size > 0) firstByteMs = Date.now() - start;
      if (!woke && first !== undefined && this.size === before && !this.eof) return finish(this.size, first[1]);
    }
  }

  /** All buffered bytes as one buffer. */
  private join(): Buffer {
    if (this.pending.length === 0) return this.joined;
    if (this.joined.length === 0 && this.pending.length === 1) {
      this.joined = this.pending[0]!;
      this.pending = [];
      this.room = undefined;
      return this.joined;
    }
    if (this.room === undefined || this.roomStart + this.size > this.room.length) {
      const next = Buffer.allocUnsafeSlow(Math.max(this.size, 2 * this.joined.length));
      this.joined.copy(next, 0);
      this.room = next;
      this.roomStart = 0;
    }
    let at = this.roomStart + this.joined.length;
    for (const p of this.pending) at += p.copy(this.room, at);
    this.pending = [];
    this.joined = this.room.subarray(this.roomStart, at);
    return this.joined;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
  private waitForData(timeoutMs: number | undefined): Promise<boolean> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      this.wake = () => {
        if (timer !== undefined) clearTimeout(timer);
        resolve(true);
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.wake = undefined;
          resolve(false);
        }, timeoutMs);
      }
    });
  }
}
