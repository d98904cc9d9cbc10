/**
 * The replay API on KOALA_INBOUND_ADDR: `POST /replay` takes one session in the store's JSON line
 * format, `POST /json` the original koala's ReplayingSession JSON; both answer the SessionResult
 * as JSON. Bad input is a 4xx with a one-line reason, never a 200 with an empty body (the
 * original's behaviour, reference §7.2).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatHostPort, parseHostPort, type HostPort } from '../config/option-parsers.js';
import { KoalaError, isKoalaError } from '../errors.js';
import type { Session } from '../generated/koala/v1/session.pb.js';
import type { Logger } from '../log/logger.js';
import { fromReferenceSession } from '../replay/reference-session.js';
import type { ReplayOptions, SessionResult } from '../replay/replay-engine.js';
import { toJsonResult } from '../replay/report/run-report.js';
import { decodeSessionLine } from '../store/session-codec.js';

export interface Replayer {
  replaySession(session: Session, opts?: ReplayOptions): Promise<SessionResult>;
}

/** Bodies bigger than this are refused (a session with a 5 MB talk fits comfortably). */
const MAX_BODY = 256 * 1024 * 1024;
/**
 * After refusing a body, how long the rest of it is still read and dropped before the connection
 * closes: closing while the client is still sending makes the kernel answer with a reset, which
 * can reach the client before it has read the 413.
 */
const LINGER_MS = 5000;

export interface ReplayApiOptions {
  /** Default MAX_BODY; tests lower it. */
  maxBodyBytes?: number;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export class ReplayApi {
  private readonly server: Server;

  private readonly maxBody: number;

  constructor(private readonly replayer: Replayer, private readonly log: Logger, opts: ReplayApiOptions = {}) {
    this.maxBody = opts.maxBodyBytes ?? MAX_BODY;
    this.server = createServer((req, res) => void this.handle(req, res));
    // A replay of a slow SUT can take as long as its timeouts; never cut the HTTP exchange first.
    this.server.requestTimeout = 0;
  }

  listen(at: HostPort): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(new KoalaError('KOALA_ERR_LISTEN', `replay API cannot listen on ${formatHostPort(at)}: ${err.message}`, { cause: err }));
      this.server.once('error', onError);
      this.server.listen(at.port, at.host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
  }

  get address(): string | undefined {
    const a = this.server.address() as AddressInfo | null;
    return a === null ? undefined : formatHostPort({ host: a.address, port: a.port });
  }

  close(): Promise<void> {
    if (!this.server.listening) return Promise.resolve();
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://koala');
      if (url.pathname !== '/replay' && url.pathname !== '/json') throw new HttpError(404, `no such endpoint ${url.pathname}; use POST /replay or POST /json`);
      if (req.method !== 'POST') throw new HttpError(405, `${url.pathname} takes POST`);
      const body = await readBody(req, this.maxBody);
      const session = url.pathname === '/replay' ? parseSessionLine(body) : parseReference(body, url.searchParams.get('sut') ?? '');
      const sutParam = url.searchParams.get('sut-addr');
      let opts: ReplayOptions = {};
      if (sutParam !== null) {
        try {
          opts = { sut: parseHostPort(sutParam) };
        } catch (err) {
          throw new HttpError(400, `sut-addr: ${(err as Error).message}`);
        }
      }
      const result = await this.replayer.replaySession(session, opts);
      send(res, 200, toJsonResult(result), 'application/json');
    } catch (err) {
      const status = err instanceof HttpError ? err.status : isKoalaError(err, 'KOALA_ERR_REPLAY') ? 409 : 500;
      if (status === 500) this.log.error('replay API request failed', { err });
      const body = `${JSON.stringify({ error: (err as Error).message })}\n`;
      if (status === 413) sendAndLinger(req, res, status, body);
      else send(res, status, body, 'application/json');
    }
  }
}

function send(res: ServerResponse, status: number, body: string, type: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Answers a request whose body is still arriving: the whole answer goes out now, but ending the
 * response (which closes the connection) waits until the client has sent the rest (drained by
 * readBody) or LINGER_MS passed.
 */
function sendAndLinger(req: IncomingMessage, res: ServerResponse, status: number, body: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.write(body);
  if (req.complete) {
    res.end();
    return;
  }
  const timer = setTimeout(() => finish(), LINGER_MS);
  timer.unref();
  const finish = (): void => {
    clearTimeout(timer);
    req.off('end', finish);
    req.off('close', finish);
    res.end();
  };
  req.once('end', finish);
  req.once('close', finish);
}

function readBody(req: IncomingMessage, maxBody: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (c: Buffer) => {
      if (refused) return;
      size += c.length;
      if (size > maxBody) {
        // The rest keeps flowing and is dropped, so the client is not reset before the 413.
        refused = true;
        chunks.length = 0;
        reject(new HttpError(413, `body larger than ${maxBody} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseSessionLine(body: string): Session {
  const line = body.trim();
  if (line === '') throw new HttpError(400, 'empty body: expected one session as a JSON line (docs/session-format.md)');
  if (line.includes('\n')) throw new HttpError(400, 'expected exactly one session line');
  try {
    return decodeSessionLine(line);
  } catch (err) {
    throw new HttpError(400, `not a session line: ${(err as Error).message}`);
  }
}

function parseReference(body: string, sut: string): Session {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    throw new HttpError(400, `not JSON: ${(err as Error).message}`);
  }
  try {
    return fromReferenceSession(json, sut);
  } catch (err) {
    throw new HttpError(400, (err as Error).message);
  }
}
