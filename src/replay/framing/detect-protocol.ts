import { RawFramer, type FrameVerdict, type Framer, type Protocol } from './framer.js';
import { HTTP_METHODS, Http1RequestFramer, Http1ResponseFramer, parseHttpHead, requestMethod } from './http1-framer.js';
import { MysqlFramer, isMysqlGreeting } from './mysql-framer.js';
import { RespFramer } from './resp-framer.js';

const HTTP_PREFIXES = [...HTTP_METHODS.map((m) => `${m} `), 'HTTP/1.'];

/**
 * Names the protocol of a byte sample: a recorded request (the best evidence: it is what this
 * client sent before) or the first bytes of a live one. A MySQL server greeting, when the
 * connection has one, settles it. Unknown bytes are `raw`, framed by the idle gap.
 */
export function detectProtocol(sample: Buffer, greeting?: Buffer): Protocol {
  if (greeting !== undefined && isMysqlGreeting(greeting)) return 'mysql';
  if (sample.length === 0) return 'raw';
  const head = sample.toString('latin1', 0, Math.min(sample.length, 8));
  if (HTTP_PREFIXES.some((p) => head.startsWith(p) || (sample.length < p.length && p.startsWith(head)))) return 'http1';
  if (looksLikeRespCommand(sample)) return 'resp';
  if (looksLikeMysqlPackets(sample)) return 'mysql';
  return 'raw';
}

function looksLikeRespCommand(buf: Buffer): boolean {
  return /^\*\d+\r\n\$\d+\r\n/.test(buf.toString('latin1', 0, Math.min(buf.length, 32)));
}

/** Packets whose lengths chain exactly to the end of the buffer, with small sequence ids. */
function looksLikeMysqlPackets(buf: Buffer): boolean {
  let pos = 0;
  while (pos + 4 <= buf.length) {
    const len = buf.readUIntLE(pos, 3);
    if (len === 0 || (buf[pos + 3] ?? 255) > 8) return false;
    pos += 4 + len;
  }
  return pos === buf.length;
}

export function createRequestFramer(protocol: Protocol): Framer {
  switch (protocol) {
    case 'http1':
      return new Http1RequestFramer();
    case 'resp':
      return new RespFramer();
    case 'mysql':
      return new MysqlFramer();
    case 'raw':
      return new RawFramer();
  }
}

/**
 * A framer for the answer to `request`. MySQL replies (result sets of many packets) have no
 * cheap end marker, so they, like raw bytes, end by the idle gap.
 */
export function createResponseFramer(protocol: Protocol, request: Buffer): { framer: Framer; expected: number | undefined } {
  if (protocol === 'http1') {
    const methods = httpRequestMethods(request);
    return { framer: new Http1ResponseFramer(methods), expected: Math.max(1, methods.length) };
  }
  if (protocol === 'resp') {
    const framer = new RespFramer();
    let count = 0;
    let pos = 0;
    while (pos < request.length) {
      const v = framer.frame(request.subarray(pos));
      if (v.status !== 'complete') break;
      pos += v.length;
      count += 1;
    }
    return { framer, expected: Math.max(1, count) };
  }
  return { framer: new RawFramer(), expected: undefined };
}

/** The methods of the pipelined requests in `buf`, in order. */
export function httpRequestMethods(buf: Buffer): string[] {
  const framer = new Http1RequestFramer();
  const methods: string[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const view = buf.subarray(pos);
    const head = parseHttpHead(view);
    const v = framer.frame(view);
    if (v.status !== 'complete') break;
    if (head !== undefined && head !== 'invalid') {
      const m = requestMethod(head);
      if (m !== undefined) methods.push(m);
    }
    framer.consumed(view, v.length);
    pos += v.length;
  }
  return methods;
}

/**
 * A request framer for a connection whose recording did not tell the protocol: the first bytes
 * that look like a known protocol fix it; until then messages end by the idle gap.
 */
export class DetectingFramer implements Framer {
  private delegate: Framer | undefined;

  constructor(known: Protocol = 'raw') {
    if (known !== 'raw') this.delegate = createRequestFramer(known);
  }

  get protocol(): Protocol {
    return this.delegate?.protocol ?? 'raw';
  }

  frame(buf: Buffer): FrameVerdict {
    if (this.delegate === undefined) {
      const p = detectProtocol(buf);
      if (p === 'raw') return { status: 'invalid', reason: 'protocol not recognised' };
      this.delegate = createRequestFramer(p);
    }
    return this.delegate.frame(buf);
  }

  consumed(buf: Buffer, length: number): void {
    this.delegate?.consumed(buf, length);
  }
}
