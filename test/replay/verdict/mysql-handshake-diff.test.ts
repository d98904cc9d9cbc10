import { expect } from 'chai';
import { diffMysqlHandshake, parseMysqlHandshakeResponse } from '../../../src/replay/verdict/mysql-handshake-diff.js';
import { diffOutboundRequest } from '../../../src/replay/verdict/outbound-diff.js';
import { DEFAULT_NOISE } from '../../../src/replay/verdict/noise-rules.js';

const lenenc = (s: string): Buffer => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);

/** A HandshakeResponse41 as go-sql-driver writes it to MariaDB (ext capabilities in the filler). */
function handshake(opts: { user?: string; db?: string; pid?: string; os?: string } = {}): Buffer {
  const caps = 0x0001 | 0x0008 | 0x0200 | 0x8000 | 0x80000 | 0x100000 | 0x200000;
  const head = Buffer.alloc(32);
  head.writeUInt32LE(caps, 0);
  head.writeUInt32LE(0, 4);
  head[8] = 0x2d;
  head.writeUInt32LE(0x1c, 28); // MariaDB extended capabilities
  const attrs = Buffer.concat([lenenc('_client_name'), lenenc('Go-MySQL-Driver'), lenenc('_os'), lenenc(opts.os ?? 'linux'), lenenc('_pid'), lenenc(opts.pid ?? '1234')]);
  const payload = Buffer.concat([
    head,
    Buffer.from(`${opts.user ?? 'koala'}\0`),
    Buffer.from([20]), Buffer.alloc(20, 7),
    Buffer.from(`${opts.db ?? 'koala_test'}\0`),
    Buffer.from('mysql_native_password\0'),
    Buffer.from([attrs.length]), attrs,
  ]);
  const h = Buffer.alloc(4);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = 1;
  return Buffer.concat([h, payload]);
}

describe('MySQL handshake response diff', () => {
  it('parses the fields, MariaDB extended capabilities and connection attributes', () => {
    const p = parseMysqlHandshakeResponse(handshake())!;
    expect(p).to.include({ user: 'koala', database: 'koala_test', plugin: 'mysql_native_password', charset: 0x2d, extCapabilities: 0x1c });
    expect(p.authResponse).to.have.lengthOf(20);
    expect(Object.fromEntries(p.attributes)).to.deep.equal({ _client_name: 'Go-MySQL-Driver', _os: 'linux', _pid: '1234' });
    expect(parseMysqlHandshakeResponse(Buffer.from('\x05\0\0\0\x03SELECT'))).to.equal(undefined);
  });

  it('ignores the per-process _pid, names every other change', () => {
    expect(diffOutboundRequest(handshake(), handshake({ pid: '98765' }), DEFAULT_NOISE)).to.deep.equal([]);
    expect(diffMysqlHandshake(handshake(), handshake({ user: 'root', db: 'other', pid: '1', os: 'darwin' }))).to.deep.equal([
      'handshake user "koala" → "root"',
      'handshake database "koala_test" → "other"',
      'handshake attribute _os "linux" → "darwin"',
    ]);
  });
});
