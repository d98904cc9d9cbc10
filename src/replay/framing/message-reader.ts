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
  private buf: Buffer = Buffer.alloc(0);
  private eof = false;
  private wake: (() => void) | undefined;

  constructor(socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
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

  get closed(): boolean {
    return this.eof && this.buf.length === 0;
  }

  async read(opts: ReadOptions): Promise<ReadResult> {
    const start = Date.now();
    let firstByteMs: number | undefined = this.buf.length > 0 ? 0 : undefined;
    let offset = 0;
    let count = 0;
    let mode: 'framed' | 'idle' | 'close' = 'framed';
    const finish = (length: number, end: ReadEnd): ReadResult => {
      const bytes = this.buf.subarray(0, length);
      this.buf = this.buf.subarray(length);
      return { bytes, end, count: mode === 'framed' ? count : 0, firstByteMs, elapsedMs: Date.now() - start };
    };
    for (;;) {
      if (mode === 'framed' && this.buf.length > offset) {
        const taken = takeMessages(opts.framer, this.buf.subarray(offset), opts.expected === undefined ? Infinity : opts.expected - count);
        offset += taken.length;
        count += taken.count;
        const done = opts.expected !== undefined ? count >= opts.expected : count > 0 && offset === this.buf.length;
        if (done) return finish(opts.expected !== undefined ? offset : this.buf.length, 'framed');
        if (taken.rest.status === 'invalid') mode = 'idle';
        else if (taken.rest.status === 'until-close') mode = 'close';
      }
      if (this.eof) return finish(this.buf.length, 'eof');
      const now = Date.now();
      const deadlines: Array<[number, ReadEnd]> = [];
      if (opts.totalTimeoutMs !== undefined) deadlines.push([start + opts.totalTimeoutMs, 'timeout']);
      if (this.buf.length === 0 && opts.firstByteTimeoutMs !== undefined) {
        deadlines.push([start + opts.firstByteTimeoutMs, 'timeout']);
      }
      if (mode === 'idle' && this.buf.length > 0) deadlines.push([now + opts.idleMs, 'idle']);
      deadlines.sort((a, b) => a[0] - b[0]);
      const first = deadlines[0];
      const before = this.buf.length;
      const woke = await this.waitForData(first === undefined ? undefined : Math.max(0, first[0] - now));
      if (firstByteMs === undefined && this.buf.length > 0) firstByteMs = Date.now() - start;
      if (!woke && first !== undefined && this.buf.length === before && !this.eof) return finish(this.buf.length, first[1]);
    }
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
