import { detectProtocol } from '../framing/detect-protocol.js';
import { mysqlQueryText } from '../framing/mysql-framer.js';
import { respCommandWords } from '../framing/resp-framer.js';
import { parseHttpMessage } from './http-message.js';
import { diffMysqlHandshake } from './mysql-handshake-diff.js';
import { diffMessages } from './message-diff.js';
import { applyReplacements, type NoiseRules } from './noise-rules.js';

const SHORT = 80;

function clip(s: string): string {
  return s.length > SHORT ? `${s.slice(0, SHORT)}…` : s;
}

/** A short human name for a request: `GET k:x`, `SQL "SELECT 1"`, `GET /users/1`, or its first bytes. */
export function describeRequest(buf: Buffer): string {
  const sql = mysqlQueryText(buf);
  if (sql !== undefined) return `SQL ${JSON.stringify(clip(sql))}`;
  const protocol = detectProtocol(buf);
  if (protocol === 'resp') {
    const words = respCommandWords(buf);
    if (words !== undefined) return clip(words.join(' '));
  }
  if (protocol === 'http1') {
    const m = parseHttpMessage(buf);
    if (m !== undefined) return clip(m.head.startLine.replace(/ HTTP\/1\.[01]$/, ''));
  }
  return JSON.stringify(clip(buf.toString('latin1')));
}

/**
 * How an outbound request differs from the recorded one it matched, in the protocol's terms
 * where that is easy (SQL text, Redis command words, HTTP fields), else a byte summary.
 */
export function diffOutboundRequest(recorded: Buffer, actual: Buffer, noise: NoiseRules): string[] {
  if (recorded.equals(actual)) return [];
  const rs = mysqlQueryText(recorded);
  const as = mysqlQueryText(actual);
  if (rs !== undefined && as !== undefined) {
    return applyReplacements(noise, rs) === applyReplacements(noise, as) ? [] : [`SQL ${JSON.stringify(rs)} → ${JSON.stringify(as)}`];
  }
  const handshake = diffMysqlHandshake(recorded, actual);
  if (handshake !== undefined) return handshake;
  const rw = detectProtocol(recorded) === 'resp' ? respCommandWords(recorded) : undefined;
  const aw = detectProtocol(actual) === 'resp' ? respCommandWords(actual) : undefined;
  if (rw !== undefined && aw !== undefined) {
    const r = applyReplacements(noise, rw.join(' '));
    const a = applyReplacements(noise, aw.join(' '));
    // Same first command: a pipeline may still differ later, so the bytes decide.
    if (r === a) return diffMessages(recorded, actual, noise);
    return [`command ${clip(rw.join(' '))} → ${clip(aw.join(' '))}`];
  }
  return diffMessages(recorded, actual, noise);
}
