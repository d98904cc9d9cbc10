import type { Protocol } from '../framing/framer.js';
import { mysqlErrPacket } from '../framing/mysql-framer.js';

export const KOALA_ERROR_HEADER = 'X-Koala-Error';
const TEXT = 'koala: no recorded talk';

/**
 * A protocol-appropriate error for a request no recorded talk matches, so the SUT fails the way
 * a broken dependency would rather than on a bare EOF. Raw bytes have no error form: undefined
 * means "close".
 */
export function noMatchReply(protocol: Protocol, request: Buffer): Buffer | undefined {
  switch (protocol) {
    case 'http1': {
      const body = `${TEXT}\n`;
      return Buffer.from(
        `HTTP/1.1 502 Bad Gateway\r\n${KOALA_ERROR_HEADER}: no recorded talk\r\nContent-Type: text/plain\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        'latin1',
      );
    }
    case 'resp':
      return Buffer.from(`-ERR ${TEXT}\r\n`, 'latin1');
    case 'mysql':
      return mysqlErrPacket(request[3] ?? 0, TEXT);
    case 'raw':
      return undefined;
  }
}
