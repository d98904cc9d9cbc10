import { createServer } from 'node:net';

/**
 * A TCP port that was free a moment ago on 127.0.0.1. For servers we do not control (mariadbd,
 * redis-server) that need a number up front; our own servers bind port 0 instead.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('no port'));
        return;
      }
      srv.close(() => resolve(addr.port));
    });
  });
}
