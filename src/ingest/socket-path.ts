/**
 * Unix-socket listener paths, shared by the shim listener and the gRPC agent endpoint's `unix:`
 * form: recorded traffic arrives here, so only the gateway's user may connect.
 */
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import { KoalaError } from '../errors.js';
import type { Logger } from '../log/logger.js';

/** True when something accepts connections on the unix socket at path. */
function probe(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/**
 * Prepares path for a unix-socket listener: the parent directory is created 0700 and a socket
 * file left by a dead process is removed; one somebody listens on is not.
 */
export async function prepareSocketPath(path: string, log: Logger): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket()) throw new KoalaError('KOALA_ERR_LISTEN', `${path} exists and is not a socket`);
  if (await probe(path)) throw new KoalaError('KOALA_ERR_LISTEN', `another process already listens on ${path}`);
  await unlink(path);
  log.info('removed stale agent socket', { socket: path });
}

/** Only the gateway's user may connect to a socket it listens on. */
export async function restrictSocket(path: string): Promise<void> {
  await chmod(path, 0o600);
}
