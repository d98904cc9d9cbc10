import { chunkedEnd, headerValue, parseHttpHead, requestMethod, responseStatus, type HttpHead } from '../framing/http1-framer.js';

export interface HttpMessage {
  head: HttpHead;
  status: number | undefined;
  method: string | undefined;
  body: Buffer;
}

/** Parses one whole HTTP/1.x message (the first, if pipelined), with a chunked body decoded. */
export function parseHttpMessage(buf: Buffer): HttpMessage | undefined {
  const head = parseHttpHead(buf);
  if (head === undefined || head === 'invalid') return undefined;
  let body = buf.subarray(head.bodyOffset);
  const te = headerValue(head, 'transfer-encoding');
  if (te !== undefined && /chunked/i.test(te)) body = dechunk(buf, head.bodyOffset) ?? body;
  else {
    const cl = headerValue(head, 'content-length');
    if (cl !== undefined && /^\d+$/.test(cl)) body = body.subarray(0, Number(cl));
  }
  return { head, status: responseStatus(head), method: requestMethod(head), body };
}

function dechunk(buf: Buffer, start: number): Buffer | undefined {
  if (typeof chunkedEnd(buf, start) !== 'number') return undefined;
  const parts: Buffer[] = [];
  let pos = start;
  for (;;) {
    const eol = buf.indexOf('\r\n', pos, 'latin1');
    const size = parseInt(buf.toString('latin1', pos, eol).split(';')[0] ?? '0', 16);
    if (size === 0) return Buffer.concat(parts);
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    pos = eol + 2 + size + 2;
  }
}

export function isJsonContent(msg: HttpMessage): boolean {
  return /\bjson\b/i.test(headerValue(msg.head, 'content-type') ?? '');
}
