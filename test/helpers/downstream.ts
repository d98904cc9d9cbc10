import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';

/** Size of the `/big` body: S11's 5 MB downstream response. */
export const BIG_BODY_SIZE = 5 * 1024 * 1024;

/** The `/big` body: deterministic, not all one byte, so a shifted or spliced copy is caught. */
export function bigBody(size = BIG_BODY_SIZE): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = 0x41 + ((i * 7 + (i >> 10)) % 26);
  return b;
}

export interface HttpDownstream {
  port: number;
  /** Request lines seen (e.g. "GET /echo?token=T"), in arrival order. */
  requests: string[];
  /** Distinct TCP connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/**
 * HTTP/1.1 keep-alive server: `/echo?token=T` answers a body containing T, `/big` a 5 MB body.
 * Its responses carry no Date header, so bytes are the same on every run for the same token.
 */
export async function startHttpDownstream(): Promise<HttpDownstream> {
  const requests: string[] = [];
  let conns = 0;
  const big = bigBody();
  const server: HttpServer = createHttpServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.sendDate = false;
    const url = new URL(req.url ?? '/', 'http://x');
    req.resume();
    req.on('end', () => {
      if (url.pathname === '/echo') {
        const body = `echo:${url.searchParams.get('token') ?? ''}\n`;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      } else if (url.pathname === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': big.length });
        res.end(big);
      } else {
        res.writeHead(404, { 'content-length': 0 });
        res.end();
      }
    });
  });
  server.on('connection', () => conns++);
  await listen(server);
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    connections: () => conns,
    close: () => closeServer(server),
  };
}

export interface LineDownstream {
  port: number;
  /** Lines received (without "\n"), in arrival order. */
  lines: string[];
  connections(): number;
  close(): Promise<void>;
}

/** Line-echo TCP server: "X\n" → "echo X\n"; lines starting with "fire " get no reply. */
export async function startLineDownstream(): Promise<LineDownstream> {
  const lines: string[] = [];
  let conns = 0;
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((sock) => {
    conns++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        if (!line.startsWith('fire ')) sock.write(`echo ${line}\n`);
      }
    });
  });
  await listen(server);
  return {
    port: (server.address() as AddressInfo).port,
    lines,
    connections: () => conns,
    close: async () => {
      for (const s of sockets) s.destroy();
      await closeServer(server);
    },
  };
}

export interface UdpSink {
  port: number;
  datagrams: Buffer[];
  close(): Promise<void>;
}

/** A statsd-like UDP sink that records every datagram. */
export async function startUdpSink(): Promise<UdpSink> {
  const sock = createSocket('udp4');
  const datagrams: Buffer[] = [];
  sock.on('message', (m) => datagrams.push(m));
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  return {
    port: sock.address().port,
    datagrams,
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}

function listen(server: HttpServer | TcpServer): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
}

function closeServer(server: HttpServer | TcpServer): Promise<void> {
  return new Promise((resolve) => {
    if ('closeAllConnections' in server) server.closeAllConnections();
    server.close(() => resolve());
  });
}
