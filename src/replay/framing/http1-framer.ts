import type { FrameVerdict, Framer } from './framer.js';

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
/** A header block larger than this is not HTTP we can frame; the idle gap takes over. */
const MAX_HEAD = 256 * 1024;
const REQUEST_LINE = /^([A-Z][A-Z_-]*) (\S+) HTTP\/1\.[01]$/;
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/;

export const HTTP_METHODS = [
  'GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT',
] as const;

export interface HttpHead {
  /** Request line or status line. */
  startLine: string;
  /** Header fields in order, names as sent. */
  headers: Array<[string, string]>;
  /** Offset of the first body byte. */
  bodyOffset: number;
}

/** Parses the head of an HTTP/1.x message; undefined while the blank line has not arrived. */
export function parseHttpHead(buf: Buffer): HttpHead | undefined | 'invalid' {
  const end = buf.indexOf(HEAD_END);
  if (end < 0) {
    if (buf.length > MAX_HEAD) return 'invalid';
    const firstEol = buf.indexOf(CRLF);
    if (firstEol >= 0 && !isStartLine(buf.toString('latin1', 0, firstEol))) return 'invalid';
    return undefined;
  }
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const startLine = lines[0] ?? '';
  if (!isStartLine(startLine)) return 'invalid';
  const headers: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return 'invalid';
    headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  return { startLine, headers, bodyOffset: end + HEAD_END.length };
}

function isStartLine(line: string): boolean {
  return REQUEST_LINE.test(line) || STATUS_LINE.test(line);
}

export function headerValue(head: HttpHead, name: string): string | undefined {
  const lower = name.toLowerCase();
  let found: string | undefined;
  for (const [k, v] of head.headers) if (k.toLowerCase() === lower) found = v;
  return found;
}

export function requestMethod(head: HttpHead): string | undefined {
  return REQUEST_LINE.exec(head.startLine)?.[1];
}

export function responseStatus(head: HttpHead): number | undefined {
  const m = STATUS_LINE.exec(head.startLine);
  return m === null ? undefined : Number(m[1]);
}

type BodyKind = { kind: 'none' } | { kind: 'length'; n: number } | { kind: 'chunked' } | { kind: 'close' };

function bodyKind(head: HttpHead, isRequest: boolean): BodyKind | 'invalid' {
  const te = headerValue(head, 'transfer-encoding');
  if (te !== undefined && /(^|,)\s*chunked\s*$/i.test(te)) return { kind: 'chunked' };
  const cl = headerValue(head, 'content-length');
  if (cl !== undefined) {
    if (!/^\d+$/.test(cl)) return 'invalid';
    const n = Number(cl);
    return n === 0 ? { kind: 'none' } : { kind: 'length', n };
  }
  return isRequest ? { kind: 'none' } : { kind: 'close' };
}

/**
 * How far a chunked body has been framed, so that framing the same bytes again, grown by what
 * arrived since, starts at the last chunk boundary instead of the body's start: re-framing from
 * the start on every read made a body of many small chunks cost the square of their number.
 * Positions are absolute offsets in `bytes`, the ArrayBuffer holding the message: a reader
 * appends to it and never rewrites what it holds (MessageReader), and another ArrayBuffer or
 * another start is another message, framed from its start.
 */
export interface ChunkProgress {
  bytes: ArrayBufferLike | undefined;
  /** Where the body starts. */
  at: number;
  /** The start of the first chunk-size line not yet framed. */
  pos: number;
}

const noChunkProgress = (): ChunkProgress => ({ bytes: undefined, at: 0, pos: 0 });

/**
 * End offset of a chunked body starting at `start`: a number, 'invalid', or incomplete with the
 * buffer length needed before anything can change (the end of the chunk being received), when
 * known. With `progress`, resumes where an earlier call on the same bytes stopped, and records
 * where this one does.
 */
export function chunkedEnd(buf: Buffer, start: number, progress?: ChunkProgress): number | 'invalid' | { need: number | undefined } {
  let pos = start;
  const at = buf.byteOffset + start;
  if (progress !== undefined && progress.bytes === buf.buffer && progress.at === at) {
    const resume = progress.pos - buf.byteOffset;
    if (resume >= start && resume <= buf.length) pos = resume;
  }
  for (;;) {
    if (progress !== undefined) {
      // pos is a chunk boundary: the body's start, or just past a chunk whose CRLF was checked.
      progress.bytes = buf.buffer;
      progress.at = at;
      progress.pos = buf.byteOffset + pos;
    }
    const eol = buf.indexOf(CRLF, pos);
    if (eol < 0) return buf.length - pos > 1024 ? 'invalid' : { need: undefined };
    const size = chunkSize(buf, pos, eol);
    if (size === undefined) return 'invalid';
    pos = eol + 2;
    if (size === 0) {
      // Trailer fields, then the blank line.
      for (;;) {
        const lineEnd = buf.indexOf(CRLF, pos);
        if (lineEnd < 0) return { need: undefined };
        const empty = lineEnd === pos;
        pos = lineEnd + 2;
        if (empty) return pos;
      }
    }
    if (buf.length < pos + size + 2) return { need: pos + size + 2 };
    if (buf[pos + size] !== 0x0d || buf[pos + size + 1] !== 0x0a) return 'invalid';
    pos += size + 2;
  }
}

/**
 * The size on a chunk size line (`buf[pos..eol)`). A body is re-framed from its start as it
 * arrives, so the common bare-hex line is read without building a string.
 */
function chunkSize(buf: Buffer, pos: number, eol: number): number | undefined {
  if (eol > pos && eol - pos <= 12) {
    let size = 0;
    let i = pos;
    for (; i < eol; i++) {
      const c = buf[i]!;
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (d < 0) break;
      size = size * 16 + d;
    }
    if (i === eol) return size;
  }
  const sizeText = buf.toString('latin1', pos, eol).split(';')[0]?.trim() ?? '';
  return /^[0-9a-fA-F]+$/.test(sizeText) ? parseInt(sizeText, 16) : undefined;
}

function bodyVerdict(buf: Buffer, offset: number, body: BodyKind, progress: ChunkProgress): FrameVerdict {
  switch (body.kind) {
    case 'none':
      return { status: 'complete', length: offset };
    case 'length':
      return buf.length >= offset + body.n ? { status: 'complete', length: offset + body.n } : { status: 'incomplete', need: offset + body.n };
    case 'chunked': {
      const end = chunkedEnd(buf, offset, progress);
      if (end === 'invalid') return { status: 'invalid', reason: 'bad chunk size line' };
      if (typeof end !== 'number') return end.need === undefined ? { status: 'incomplete' } : { status: 'incomplete', need: end.need };
      return { status: 'complete', length: end };
    }
    case 'close':
      return { status: 'until-close' };
  }
}

/**
 * Frames HTTP/1.x requests, pipelined ones included. A request carrying `Expect: 100-continue`
 * whose body has not been sent yet is complete at its head: the client is waiting for the
 * interim reply, and the body then arrives as the next message (the recording pairs them so too).
 */
export class Http1RequestFramer implements Framer {
  readonly protocol = 'http1' as const;
  private pendingBody: BodyKind | undefined;
  private readonly chunks = noChunkProgress();

  frame(buf: Buffer): FrameVerdict {
    if (this.pendingBody !== undefined) return bodyVerdict(buf, 0, this.pendingBody, this.chunks);
    const head = parseHttpHead(buf);
    if (head === undefined) return { status: 'incomplete' };
    if (head === 'invalid') return { status: 'invalid', reason: 'not an HTTP/1.x request head' };
    const body = bodyKind(head, true);
    if (body === 'invalid') return { status: 'invalid', reason: 'bad Content-Length' };
    if (body.kind !== 'none' && expectsContinue(head) && buf.length === head.bodyOffset) {
      return { status: 'complete', length: head.bodyOffset };
    }
    return bodyVerdict(buf, head.bodyOffset, body, this.chunks);
  }

  consumed(buf: Buffer, length: number): void {
    this.chunks.bytes = undefined;
    if (this.pendingBody !== undefined) {
      this.pendingBody = undefined;
      return;
    }
    const head = parseHttpHead(buf);
    if (head === undefined || head === 'invalid' || length !== head.bodyOffset) return;
    const body = bodyKind(head, true);
    if (body !== 'invalid' && body.kind !== 'none' && expectsContinue(head)) this.pendingBody = body;
  }
}

function expectsContinue(head: HttpHead): boolean {
  return headerValue(head, 'expect')?.toLowerCase() === '100-continue';
}

/**
 * Frames HTTP/1.x responses. `requestMethods` are the methods of the requests being answered, in
 * order, so a response to HEAD is known to have no body. 1xx interim responses (except 101) are
 * whole messages that do not count as the answer.
 */
export class Http1ResponseFramer implements Framer {
  readonly protocol = 'http1' as const;
  private readonly methods: string[];
  private readonly chunks = noChunkProgress();

  constructor(requestMethods: readonly string[] = []) {
    this.methods = [...requestMethods];
  }

  frame(buf: Buffer): FrameVerdict {
    const head = parseHttpHead(buf);
    if (head === undefined) return { status: 'incomplete' };
    if (head === 'invalid') return { status: 'invalid', reason: 'not an HTTP/1.x response head' };
    const status = responseStatus(head);
    if (status === undefined) return { status: 'invalid', reason: 'not a status line' };
    if ((status >= 100 && status < 200) || status === 204 || status === 304 || this.methods[0] === 'HEAD') {
      return { status: 'complete', length: head.bodyOffset };
    }
    const body = bodyKind(head, false);
    if (body === 'invalid') return { status: 'invalid', reason: 'bad Content-Length' };
    return bodyVerdict(buf, head.bodyOffset, body, this.chunks);
  }

  consumed(buf: Buffer, length: number): void {
    this.chunks.bytes = undefined;
    if (this.countsAsMessage(buf, length)) this.methods.shift();
  }

  countsAsMessage(buf: Buffer, _length: number): boolean {
    const head = parseHttpHead(buf);
    if (head === undefined || head === 'invalid') return true;
    const status = responseStatus(head) ?? 200;
    return status < 100 || status >= 200 || status === 101;
  }
}
