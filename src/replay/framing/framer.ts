/**
 * Incremental framing: deciding from the bytes alone when a whole request or response has
 * arrived, so replay never waits for an idle gap when the protocol already says "complete".
 */
export type Protocol = 'http1' | 'resp' | 'mysql' | 'raw';

export type FrameVerdict =
  /** The first message of the buffer is `length` bytes long. */
  | { status: 'complete'; length: number }
  /**
   * The first message has started but more bytes are needed. `need`, when the framer knows it
   * (a length prefix), is how many bytes from the start of the buffer must be there before the
   * verdict can change, so callers do not re-frame a large message on every read.
   */
  | { status: 'incomplete'; need?: number }
  /** The message ends when the peer closes (an HTTP response without length). */
  | { status: 'until-close' }
  /** The bytes do not follow this protocol: fall back to the idle gap. */
  | { status: 'invalid'; reason: string };

export interface Framer {
  readonly protocol: Protocol;
  /** Inspects `buf`, which starts at a message boundary, without changing any state. */
  frame(buf: Buffer): FrameVerdict;
  /**
   * The caller consumed a complete message of `length` bytes from the front of `buf`. Stateful
   * framers advance here (an HTTP body announced by `Expect: 100-continue` comes as its own message).
   */
  consumed(buf: Buffer, length: number): void;
  /** Whether the consumed message counts toward an expected number (HTTP 1xx interim replies do not). */
  countsAsMessage?(buf: Buffer, length: number): boolean;
}

export interface TakenMessages {
  /** Bytes from the front of the buffer that form whole messages. */
  length: number;
  /** How many whole messages those bytes hold (interim replies excluded). */
  count: number;
  /**
   * What the framer said about the bytes after them (`incomplete` when none are left); its `need`
   * counts from `length`.
   */
  rest: FrameVerdict;
}

/**
 * Consumes as many whole messages as `buf` holds, advancing the framer. A pipelined write of N
 * commands yields count N; the request is complete when `length === buf.length`. Stops after
 * `limit` counted messages (a reply must not swallow the bytes of the next one).
 */
export function takeMessages(framer: Framer, buf: Buffer, limit = Infinity): TakenMessages {
  let offset = 0;
  let count = 0;
  while (offset < buf.length && count < limit) {
    const view = buf.subarray(offset);
    const verdict = framer.frame(view);
    if (verdict.status !== 'complete') return { length: offset, count, rest: verdict };
    framer.consumed(view, verdict.length);
    if (framer.countsAsMessage === undefined || framer.countsAsMessage(view, verdict.length)) count += 1;
    offset += verdict.length;
  }
  return { length: offset, count, rest: { status: 'incomplete' } };
}

/** The fallback: no structure known, so only an idle gap (or the peer closing) ends a message. */
export class RawFramer implements Framer {
  readonly protocol = 'raw' as const;

  frame(): FrameVerdict {
    return { status: 'invalid', reason: 'no framing for raw bytes' };
  }

  consumed(): void {}
}
