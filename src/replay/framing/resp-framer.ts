import type { FrameVerdict, Framer } from './framer.js';

/** Longest inline command or simple line we accept before deciding the bytes are not RESP. */
const MAX_LINE = 64 * 1024;
const LINE_TYPES = new Set(['+', '-', ':', '_', ',', '#', '(']);
const BULK_TYPES = new Set(['$', '!', '=']);
/** Aggregates whose element count is the header number (maps and attributes hold pairs). */
const AGGREGATE_TYPES = new Map([['*', 1], ['~', 1], ['>', 1], ['%', 2], ['|', 2]]);

/** An end offset, 'invalid', or incomplete with the buffer length needed first, when known. */
type Parsed = number | 'invalid' | { need: number | undefined };

const UNKNOWN_NEED = { need: undefined } as const;

function lineEnd(buf: Buffer, pos: number): Parsed {
  const eol = buf.indexOf('\r\n', pos, 'latin1');
  if (eol < 0) return buf.length - pos > MAX_LINE ? 'invalid' : UNKNOWN_NEED;
  return eol;
}

/** End offset of one RESP2/RESP3 value starting at `pos`. */
function valueEnd(buf: Buffer, pos: number, depth: number): Parsed {
  if (pos >= buf.length) return UNKNOWN_NEED;
  if (depth > 64) return 'invalid';
  const type = String.fromCharCode(buf[pos] ?? 0);
  const eol = lineEnd(buf, pos + 1);
  if (typeof eol !== 'number') return eol;
  if (LINE_TYPES.has(type)) return eol + 2;
  const header = buf.toString('latin1', pos + 1, eol);
  if (!/^-?\d+$/.test(header)) return 'invalid';
  const n = Number(header);
  if (BULK_TYPES.has(type)) {
    if (n < 0) return eol + 2;
    const end = eol + 2 + n + 2;
    if (buf.length < end) return { need: end };
    if (buf[end - 2] !== 0x0d || buf[end - 1] !== 0x0a) return 'invalid';
    return end;
  }
  const per = AGGREGATE_TYPES.get(type);
  if (per === undefined) return 'invalid';
  let at = eol + 2;
  for (let i = 0; i < n * per; i++) {
    const next = valueEnd(buf, at, depth + 1);
    if (typeof next !== 'number') return next;
    at = next;
  }
  return at;
}

/**
 * Frames Redis RESP values: commands (arrays of bulk strings, or inline commands ended by a
 * newline) and replies. Each value is one message, so three pipelined commands are three.
 */
export class RespFramer implements Framer {
  readonly protocol = 'resp' as const;

  frame(buf: Buffer): FrameVerdict {
    if (buf.length === 0) return { status: 'incomplete' };
    const type = String.fromCharCode(buf[0] ?? 0);
    if (LINE_TYPES.has(type) || BULK_TYPES.has(type) || AGGREGATE_TYPES.has(type)) {
      const end = valueEnd(buf, 0, 0);
      if (end === 'invalid') return { status: 'invalid', reason: 'malformed RESP value' };
      if (typeof end !== 'number') return end.need === undefined ? { status: 'incomplete' } : { status: 'incomplete', need: end.need };
      return { status: 'complete', length: end };
    }
    // Inline command: printable text up to a newline (redis-cli and telnet style).
    const eol = buf.indexOf(0x0a);
    if (eol < 0) return buf.length > MAX_LINE ? { status: 'invalid', reason: 'inline command too long' } : { status: 'incomplete' };
    return { status: 'complete', length: eol + 1 };
  }

  consumed(): void {}
}

/** Decodes a RESP command array or inline command into its words, for reports. */
export function respCommandWords(buf: Buffer): string[] | undefined {
  if (buf[0] !== 0x2a) {
    const eol = buf.indexOf(0x0a);
    const line = buf.toString('utf8', 0, eol < 0 ? buf.length : eol).trim();
    return line.length === 0 ? undefined : line.split(/\s+/);
  }
  const eol = buf.indexOf('\r\n', 0, 'latin1');
  const n = Number(buf.toString('latin1', 1, eol));
  if (!Number.isInteger(n) || n < 0) return undefined;
  const words: string[] = [];
  let pos = eol + 2;
  for (let i = 0; i < n; i++) {
    if (buf[pos] !== 0x24) return undefined;
    const le = buf.indexOf('\r\n', pos, 'latin1');
    const len = Number(buf.toString('latin1', pos + 1, le));
    if (le < 0 || !Number.isInteger(len) || len < 0) return undefined;
    words.push(buf.toString('utf8', le + 2, le + 2 + len));
    pos = le + 2 + len + 2;
  }
  return words;
}
