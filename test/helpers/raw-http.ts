import { connect, type Socket } from 'node:net';

/**
 * An HTTP/1.1 client on one raw TCP connection, so a test knows the exact bytes it sent and
 * received. Responses are framed by Content-Length (every test server sends it).
 */
export class RawHttpConnection {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private ended = false;
  private error: Error | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    socket.on('end', () => {
      this.ended = true;
      this.waiter?.();
    });
    socket.on('error', (e) => {
      this.error = e;
      this.waiter?.();
    });
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawHttpConnection> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new RawHttpConnection(s));
      });
      s.once('error', reject);
    });
  }

  /** The client's own port: the inbound peer the SUT sees. */
  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  /** Sends `request` and resolves with the raw bytes of one full response. */
  async request(request: Buffer | string, timeoutMs = 30_000): Promise<Buffer> {
    this.socket.write(request);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const n = responseLength(this.buf);
      if (n !== undefined) {
        const res = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        return Buffer.from(res);
      }
      if (this.error) throw this.error;
      if (this.ended) throw new Error(`connection closed mid-response after ${this.buf.length} bytes: ${this.buf.toString('latin1', 0, 200)}`);
      if (Date.now() > deadline) throw new Error('response timed out');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiter = () => {
          clearTimeout(t);
          this.waiter = undefined;
          resolve();
        };
      });
    }
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }
}

/** Total bytes of the first complete response in `b`, or undefined while incomplete. */
export function responseLength(b: Buffer): number | undefined {
  const end = b.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = b.toString('latin1', 0, end);
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  const total = end + 4 + (m ? Number(m[1]) : 0);
  return b.length >= total ? total : undefined;
}

export function bodyOf(response: Buffer): Buffer {
  return response.subarray(response.indexOf('\r\n\r\n') + 4);
}

export function statusOf(response: Buffer): number {
  return Number(response.toString('latin1', 9, 12));
}

export function getRequest(path: string, opts: { close?: boolean } = {}): string {
  return `GET ${path} HTTP/1.1\r\nHost: sut\r\n${opts.close ? 'Connection: close\r\n' : ''}\r\n`;
}

/** One request on a fresh connection (closed afterwards). */
export async function oneShot(port: number, request: Buffer | string): Promise<Buffer> {
  const c = await RawHttpConnection.open(port);
  try {
    return await c.request(request);
  } finally {
    c.close();
  }
}
