import type { FrameVerdict, Framer } from './framer.js';

/** A payload of exactly this length continues in the next packet (the >16 MB split). */
export const MYSQL_MAX_PAYLOAD = 0xffffff;
export const COM_QUERY = 0x03;

/**
 * Frames MySQL client messages: a 3-byte little-endian payload length and a sequence id, then the
 * payload. A command is one packet, or a run of maximum-size packets ended by a shorter one.
 */
export class MysqlFramer implements Framer {
  readonly protocol = 'mysql' as const;

  frame(buf: Buffer): FrameVerdict {
    let pos = 0;
    for (;;) {
      if (buf.length < pos + 4) return { status: 'incomplete', need: pos + 4 };
      const len = buf.readUIntLE(pos, 3);
      const end = pos + 4 + len;
      if (buf.length < end) return { status: 'incomplete', need: end };
      pos = end;
      if (len < MYSQL_MAX_PAYLOAD) return { status: 'complete', length: pos };
    }
  }

  consumed(): void {}
}

/** The payload of a single-packet message (split messages are joined). */
export function mysqlPayload(buf: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let pos = 0;
  while (buf.length >= pos + 4) {
    const len = buf.readUIntLE(pos, 3);
    if (buf.length < pos + 4 + len) return undefined;
    parts.push(buf.subarray(pos + 4, pos + 4 + len));
    pos += 4 + len;
    if (len < MYSQL_MAX_PAYLOAD) break;
  }
  return parts.length === 0 ? undefined : Buffer.concat(parts);
}

/** The SQL text of a COM_QUERY packet, for reports. */
export function mysqlQueryText(buf: Buffer): string | undefined {
  const payload = mysqlPayload(buf);
  if (payload === undefined || payload[0] !== COM_QUERY) return undefined;
  return payload.toString('utf8', 1);
}

/** Whether `buf` looks like a MySQL server greeting (protocol version 10 in packet 0). */
export function isMysqlGreeting(buf: Buffer): boolean {
  return buf.length >= 5 && buf[3] === 0 && buf[4] === 0x0a && buf.readUIntLE(0, 3) === buf.length - 4;
}

/**
 * An ERR packet (error 1105 "unknown error", SQL state HY000) answering a client packet whose
 * sequence id was `seq`.
 */
export function mysqlErrPacket(seq: number, message: string): Buffer {
  const text = Buffer.from(message, 'utf8');
  const payload = Buffer.concat([Buffer.from([0xff, 0x51, 0x04, 0x23]), Buffer.from('HY000', 'latin1'), text]);
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = (seq + 1) & 0xff;
  return Buffer.concat([header, payload]);
}
