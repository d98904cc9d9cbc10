/**
 * MySQL HandshakeResponse41 (the client's auth packet in a connection prelude), compared field by
 * field. Client libraries put per-process connection attributes in it (`_pid`, `_thread`), so a
 * byte comparison would fail every replay by a fresh SUT process.
 */

const CLIENT_CONNECT_WITH_DB = 0x8;
const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_PLUGIN_AUTH = 0x80000;
const CLIENT_CONNECT_ATTRS = 0x100000;
const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 0x200000;

/** Connection attributes that differ on every process or thread by design. */
export const VOLATILE_MYSQL_ATTRIBUTES = new Set(['_pid', '_thread']);

export interface MysqlHandshakeResponse {
  capabilities: number;
  /** MariaDB's extended capabilities (the filler's last 4 bytes); 0 from MySQL clients. */
  extCapabilities: number;
  maxPacket: number;
  charset: number;
  user: string;
  authResponse: Buffer;
  database: string | undefined;
  plugin: string | undefined;
  attributes: Map<string, string>;
}

class Cursor {
  constructor(readonly b: Buffer, public pos: number) {}

  need(n: number): void {
    if (this.pos + n > this.b.length) throw new RangeError('short packet');
  }

  u8(): number {
    this.need(1);
    return this.b[this.pos++]!;
  }

  u32(): number {
    this.need(4);
    const v = this.b.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  cstring(): string {
    const end = this.b.indexOf(0, this.pos);
    if (end < 0) throw new RangeError('unterminated string');
    const v = this.b.toString('utf8', this.pos, end);
    this.pos = end + 1;
    return v;
  }

  lenenc(): number {
    const first = this.u8();
    if (first < 0xfb) return first;
    if (first === 0xfc) return this.bytes(2).readUInt16LE(0);
    if (first === 0xfd) return this.bytes(3).readUIntLE(0, 3);
    if (first === 0xfe) return Number(this.bytes(8).readBigUInt64LE(0));
    throw new RangeError('bad length-encoded integer');
  }

  lenencString(): string {
    return this.bytes(this.lenenc()).toString('utf8');
  }
}

/** Parses one packet (header + payload) as a HandshakeResponse41; undefined when it is not one. */
export function parseMysqlHandshakeResponse(buf: Buffer): MysqlHandshakeResponse | undefined {
  if (buf.length < 4 + 32 || buf.readUIntLE(0, 3) !== buf.length - 4) return undefined;
  try {
    const c = new Cursor(buf, 4);
    const capabilities = c.u32();
    if ((capabilities & CLIENT_PROTOCOL_41) === 0) return undefined;
    const maxPacket = c.u32();
    const charset = c.u8();
    // 23 filler bytes; MariaDB puts its extended capabilities in the last 4.
    if (c.bytes(19).some((x) => x !== 0)) return undefined;
    const extCapabilities = c.u32();
    const user = c.cstring();
    let authResponse: Buffer;
    if (capabilities & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) authResponse = c.bytes(c.lenenc());
    else if (capabilities & CLIENT_SECURE_CONNECTION) authResponse = c.bytes(c.u8());
    else authResponse = Buffer.from(c.cstring(), 'utf8');
    const database = capabilities & CLIENT_CONNECT_WITH_DB && c.pos < buf.length ? c.cstring() : undefined;
    const plugin = capabilities & CLIENT_PLUGIN_AUTH && c.pos < buf.length ? c.cstring() : undefined;
    const attributes = new Map<string, string>();
    if (capabilities & CLIENT_CONNECT_ATTRS && c.pos < buf.length) {
      const end = c.lenenc() + c.pos;
      while (c.pos < end) attributes.set(c.lenencString(), c.lenencString());
    }
    return { capabilities, extCapabilities, maxPacket, charset, user, authResponse, database, plugin, attributes };
  } catch {
    return undefined;
  }
}

/**
 * How two handshake responses differ (volatile attributes ignored), one line per field; undefined
 * when either is not a handshake response.
 */
export function diffMysqlHandshake(recorded: Buffer, actual: Buffer): string[] | undefined {
  const r = parseMysqlHandshakeResponse(recorded);
  const a = parseMysqlHandshakeResponse(actual);
  if (r === undefined || a === undefined) return undefined;
  const out: string[] = [];
  const field = (name: string, x: unknown, y: unknown): void => {
    if (x !== y) out.push(`handshake ${name} ${JSON.stringify(x)} → ${JSON.stringify(y)}`);
  };
  field('capabilities', `0x${r.capabilities.toString(16)}`, `0x${a.capabilities.toString(16)}`);
  field('extended capabilities', `0x${r.extCapabilities.toString(16)}`, `0x${a.extCapabilities.toString(16)}`);
  field('max packet', r.maxPacket, a.maxPacket);
  field('charset', r.charset, a.charset);
  field('user', r.user, a.user);
  field('auth response', r.authResponse.toString('hex'), a.authResponse.toString('hex'));
  field('database', r.database, a.database);
  field('auth plugin', r.plugin, a.plugin);
  for (const k of new Set([...r.attributes.keys(), ...a.attributes.keys()])) {
    if (!VOLATILE_MYSQL_ATTRIBUTES.has(k)) field(`attribute ${k}`, r.attributes.get(k), a.attributes.get(k));
  }
  return out;
}
