import { freePort } from './ports.js';
import { spawnChild } from './process.js';
import { connect } from 'node:net';
import { waitFor } from './wait.js';

export interface Redis {
  host: string;
  port: number;
  /** Sends one raw RESP command and resolves with the raw reply bytes (latin1 string). */
  command(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

export function encodeResp(args: string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('');
}

/** A private redis-server on a random loopback port, no persistence. */
export async function startRedis(): Promise<Redis> {
  const port = await freePort();
  const server = spawnChild('redis-server', [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--dir', '/tmp',
    '--dbfilename', `koala-redis-${port}.rdb`,
  ]);
  const host = '127.0.0.1';
  const command = (...args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = connect({ host, port });
      let buf = '';
      s.setEncoding('latin1');
      s.on('error', reject);
      s.on('data', (d: string) => {
        buf += d;
        if (buf.endsWith('\r\n') && respComplete(buf)) {
          s.destroy();
          resolve(buf);
        }
      });
      s.write(encodeResp(args));
    });
  const stop = async (): Promise<void> => {
    await server.stop('SIGTERM', 5_000);
  };
  try {
    await waitFor(
      'redis-server to answer PING',
      async () => {
        if (server.proc.exitCode !== null) throw new Error(`redis-server exited: ${server.stdout()}${server.stderr()}`);
        return (await command('PING')) === '+PONG\r\n';
      },
      20_000,
      100,
    );
    return { host, port, command, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** True when `buf` holds exactly one complete RESP reply (simple types and bulk strings). */
function respComplete(buf: string): boolean {
  const t = buf[0];
  if (t === '+' || t === '-' || t === ':') return true;
  if (t === '$') {
    const nl = buf.indexOf('\r\n');
    const n = Number(buf.slice(1, nl));
    return n < 0 || buf.length >= nl + 2 + n + 2;
  }
  return true;
}
