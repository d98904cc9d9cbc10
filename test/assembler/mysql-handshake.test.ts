import { expect } from 'chai';
import { isMysqlGreeting, MysqlHandshake } from '../../src/assembler/mysql-handshake.js';

const packet = (seq: number, payload: number[]) => Buffer.from([payload.length & 0xff, payload.length >> 8, 0, seq, ...payload]);

describe('MysqlHandshake', () => {
  it('recognises a protocol-10 greeting only', () => {
    expect(isMysqlGreeting(packet(0, [0x0a, 0x38, 0]))).to.equal(true);
    expect(isMysqlGreeting(packet(0, [0x09, 0x38, 0]))).to.equal(false);
    expect(isMysqlGreeting(Buffer.from('220 smtp\r\n'))).to.equal(false);
  });

  it('ends at the first OK after the greeting, fed one byte at a time; auth-switch and more-data continue', () => {
    const h = new MysqlHandshake();
    const bytes = Buffer.concat([packet(0, [0x0a, 0x00, 0x00]), packet(2, [0xfe, 0x61]), packet(4, [0x01, 0x03]), packet(6, [0x00, 0, 0])]);
    const okStart = bytes.length - 7;
    for (let i = 0; i < bytes.length; i++) {
      h.feed(bytes.subarray(i, i + 1));
      // Done exactly when the OK packet's first payload byte has been seen.
      expect(h.done, `after byte ${i}`).to.equal(i >= okStart + 4);
    }
  });

  it('ignores a 0x00 byte inside the greeting payload', () => {
    const h = new MysqlHandshake();
    h.feed(packet(0, [0x0a, 0x00, 0xff, 0x00]));
    expect(h.done).to.equal(false);
    h.feed(packet(2, [0xff, 0x15]));
    expect(h.done).to.equal(true);
  });
});
