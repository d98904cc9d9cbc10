import { AddressFamily, type Address } from '../generated/koala/v1/agent.pb.js';

/** `ip:port` (IPv6 as `[ip]:port`, unix sockets as their path): the key and the report text. */
export function formatAddress(addr: Address | undefined): string {
  if (addr === undefined) return '?';
  if (addr.family === AddressFamily.ADDRESS_FAMILY_UNIX || addr.path !== '') return addr.path;
  if (addr.ip.length === 4) return `${[...addr.ip].join('.')}:${addr.port}`;
  if (addr.ip.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(addr.ip.readUInt16BE(i).toString(16));
    return `[${groups.join(':')}]:${addr.port}`;
  }
  return `?:${addr.port}`;
}

/**
 * Equal as formatAddress would print them, compared field by field: matching calls this for every
 * recorded talk on every request, and formatting both sides each time dominated match time.
 */
export function sameAddress(a: Address | undefined, b: Address | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const aPath = a.family === AddressFamily.ADDRESS_FAMILY_UNIX || a.path !== '';
  const bPath = b.family === AddressFamily.ADDRESS_FAMILY_UNIX || b.path !== '';
  if (aPath || bPath) return aPath && bPath && a.path === b.path;
  if (a.port !== b.port) return false;
  const known = (n: number): boolean => n === 4 || n === 16;
  if (!known(a.ip.length) && !known(b.ip.length)) return true;
  return Buffer.compare(a.ip, b.ip) === 0;
}

/** An IPv4 or IPv6 address from `ip` text and a port (tests, config, the net module's output). */
export function makeAddress(ip: string, port: number): Address {
  if (ip.includes(':')) {
    const [head = '', tail = ''] = ip.split('::');
    const h = head === '' ? [] : head.split(':');
    const t = tail === '' ? [] : tail.split(':');
    const groups = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
    const buf = Buffer.alloc(16);
    groups.forEach((g, i) => buf.writeUInt16BE(parseInt(g, 16) || 0, i * 2));
    return { family: AddressFamily.ADDRESS_FAMILY_INET6, ip: buf, port, path: '' };
  }
  return { family: AddressFamily.ADDRESS_FAMILY_INET, ip: Buffer.from(ip.split('.').map(Number)), port, path: '' };
}
