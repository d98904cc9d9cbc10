import { AddressFamily, type Address } from '../generated/koala/v1/agent.pb.js';

/** Text form of a 4- or 16-byte IP (RFC 5952 for IPv6); undefined for any other length. */
export function formatIp(ip: Uint8Array): string | undefined {
  if (ip.length === 4) return `${ip[0]}.${ip[1]}.${ip[2]}.${ip[3]}`;
  if (ip.length !== 16) return undefined;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((ip[i]! << 8) | ip[i + 1]!);
  // IPv4-mapped addresses read best with the IPv4 tail (RFC 5952 §5).
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}

/** Bytes of an IPv4 or IPv6 text address; undefined when it is neither. */
export function parseIp(text: string): Buffer | undefined {
  const v4 = parseIpv4(text);
  if (v4) return v4;
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  let tailV4: Buffer | undefined;
  let body = text;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    tailV4 = parseIpv4(text.slice(lastColon + 1));
    if (!tailV4) return undefined;
    body = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const part = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = part(halves[0]!);
  const tail = halves.length === 2 ? part(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  if (tailV4) tailV4.copy(out, 12);
  return out;
}

function parseIpv4(text: string): Buffer | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const bytes = m.slice(1).map(Number);
  if (bytes.some((b) => b > 255)) return undefined;
  return Buffer.from(bytes);
}

/** "ip:port", "[ip6]:port" or the unix path, for logs and bypass matching. */
export function formatAddress(a: Address | undefined): string {
  if (!a) return '?';
  if (a.family === AddressFamily.ADDRESS_FAMILY_UNIX) return a.path || '@?';
  const ip = formatIp(a.ip) ?? '?';
  return a.family === AddressFamily.ADDRESS_FAMILY_INET6 ? `[${ip}]:${a.port}` : `${ip}:${a.port}`;
}
