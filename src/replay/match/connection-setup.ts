import { detectProtocol } from '../framing/detect-protocol.js';
import { respCommandWords } from '../framing/resp-framer.js';

/**
 * Redis commands a client library sends on each connection it opens, before the connection does
 * any work (go-redis: HELLO, AUTH, SELECT, CLIENT SETNAME/SETINFO; cluster READONLY).
 */
const RESP_SETUP = new Set(['hello', 'auth', 'select', 'client', 'readonly']);

/**
 * Whether `request` is client-first connection setup: the talk a pool sends once per new
 * connection. Which session pays for it depends on when the pool opens connections, and that
 * differs between the recording and the replay (another concurrency, another pool state). So a
 * recorded setup talk is not owed by its session, and a setup request finds its answer in any
 * recorded setup talk to the same destination (server-first handshakes are preludes already).
 */
export function isConnectionSetup(request: Buffer): boolean {
  if (request.length === 0 || detectProtocol(request) !== 'resp') return false;
  const word = respCommandWords(request)?.[0];
  return word !== undefined && RESP_SETUP.has(word.toLowerCase());
}
