import { parseIp } from '../assembler/address-text.js';
import { KoalaError } from '../errors.js';
import { AddressFamily, type Address } from '../generated/koala/v1/agent.pb.js';

/**
 * Equal as formatAddress (assembler/address-text.ts) would print them, compared field by field:
 * matching calls this for every recorded talk on every request, and formatting both sides each
 * time dominated match time.
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
  const bytes = parseIp(ip);
  if (bytes === undefined) throw new KoalaError('KOALA_ERR_REPLAY', `not an IPv4 or IPv6 address: ${ip}`);
  const family = bytes.length === 4 ? AddressFamily.ADDRESS_FAMILY_INET : AddressFamily.ADDRESS_FAMILY_INET6;
  return { family, ip: bytes, port, path: '' };
}
