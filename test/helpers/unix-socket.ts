import { createConnection, type Socket } from 'node:net';

/** A connected client socket on a unix socket path (what a shim agent opens). */
export function connectUnix(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path, () => resolve(s));
    s.once('error', reject);
  });
}
