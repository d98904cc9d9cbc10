/**
 * Parsers for the value kinds in the option table. Each returns the typed value or throws a
 * plain Error whose message says what was expected; loadConfig adds the option's name.
 */
import { isIP } from 'node:net';

export function oneOf<const T extends string>(values: readonly T[], opts: { caseInsensitive?: boolean } = {}) {
  return (raw: string): T => {
    const wanted = opts.caseInsensitive ? raw.toLowerCase() : raw;
    const hit = values.find((v) => (opts.caseInsensitive ? v.toLowerCase() : v) === wanted);
    if (hit === undefined) throw new Error(`expected one of ${values.join(', ')}`);
    return hit;
  };
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go-style duration ("100ms", "2s", "1m30s") or a bare number of milliseconds; returns ms. */
export function parseDurationMs(raw: string): number {
  const text = raw.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = part.exec(text); m !== null; m = part.exec(text)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    matched = part.lastIndex;
  }
  if (text === '' || matched !== text.length) throw new Error('expected a duration such as 100ms, 2s or 1m30s');
  return total;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1000, kb: 1000, kib: 1024, m: 1e6, mb: 1e6, mib: 1 << 20, g: 1e9, gb: 1e9, gib: 1 << 30 };

/** A byte count: "16MiB", "64 KiB", "1000000". */
export function parseBytes(raw: string): number {
  const m = /^\s*(\d+)\s*([a-zA-Z]*)\s*$/.exec(raw);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error('expected a byte count such as 65536, 64KiB or 16MiB');
  const n = Number(m[1]) * unit;
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error('expected a positive byte count');
  return n;
}

/** A nice value for a thread: an integer from 0 (as the gateway) to 19 (idle CPU only). */
export function parseNice(raw: string): number {
  const text = raw.trim();
  const n = Number(text);
  if (text === '' || !Number.isInteger(n) || n < 0 || n > 19) throw new Error('expected an integer from 0 to 19');
  return n;
}

export function parseRatio(raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new Error('expected a number between 0 and 1');
  return n;
}

export interface HostPort {
  host: string;
  port: number;
}

/**
 * "host:port", "[v6]:port" or ":port". An empty host means loopback, not every interface: a
 * listener is exposed beyond the machine only when an address says so explicitly.
 */
export function parseHostPort(raw: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:\s]*)):(\d{1,5})$/.exec(raw.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error('expected host:port, [ipv6]:port or :port');
  const host = m[1] ?? m[2] ?? '';
  if (m[1] !== undefined && isIP(m[1]) !== 6) throw new Error(`expected an IPv6 address inside [], got ${m[1]}`);
  return { host: host === '' ? '127.0.0.1' : host, port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Normalised "host:port" string (so ":2514" reads back as "127.0.0.1:2514"). */
export function parseAddress(raw: string): string {
  return formatHostPort(parseHostPort(raw));
}

/** The `unix:` form of a gRPC address: `unix:///abs/path.sock`. */
export const UNIX_TARGET_PREFIX = 'unix://';

/** The socket path of a `unix:///abs/path` target, or undefined when raw is not one. */
export function unixTargetPath(raw: string): string | undefined {
  return raw.startsWith(UNIX_TARGET_PREFIX) ? raw.slice(UNIX_TARGET_PREFIX.length) : undefined;
}

/**
 * A gRPC listen address: "host:port" (normalised as parseAddress does) or `unix:///abs/path.sock`
 * (a unix socket; the path must be absolute).
 */
export function parseGrpcAddress(raw: string): string {
  const t = raw.trim();
  if (t.startsWith('unix:')) {
    const path = unixTargetPath(t);
    if (path === undefined || !path.startsWith('/') || path.length < 2 || path.endsWith('/')) {
      throw new Error(`expected unix:///absolute/path.sock, got "${raw}"`);
    }
    return t;
  }
  try {
    return parseAddress(raw);
  } catch {
    throw new Error('expected host:port, [ipv6]:port, :port or unix:///absolute/path.sock');
  }
}

/** Comma list of "ip:port" or ":port" (any host on that port), as the agents understand them. */
export function parseBypassList(raw: string): string[] {
  const entries = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const e of entries) {
    const m = /^(?:\[([^\]]+)\]|([^:\s]*)):(\d{1,5})$/.exec(e);
    const host = m?.[1] ?? m?.[2] ?? '';
    if (!m || Number(m[3]) > 65535 || (host !== '' && isIP(host) === 0)) {
      throw new Error(`expected a comma list of ip:port or :port, got "${e}"`);
    }
  }
  return entries;
}

export function parsePath(raw: string): string {
  if (raw.trim() === '') throw new Error('expected a non-empty path');
  return raw;
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
