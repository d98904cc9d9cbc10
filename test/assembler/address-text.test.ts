import { expect } from 'chai';
import { formatIp, parseIp } from '../../src/assembler/address-text.js';

describe('address text', () => {
  const cases: [string, string][] = [
    ['7f000001', '127.0.0.1'],
    ['00000000000000000000000000000001', '::1'],
    ['00000000000000000000000000000000', '::'],
    ['20010db8000000000000000000000001', '2001:db8::1'],
    ['20010db8000100000001000000000001', '2001:db8:1:0:1::1'],
    ['fe800000000000000000000000000000', 'fe80::'],
    ['00000000000000000000ffffc0a80001', '::ffff:192.168.0.1'],
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
  ];
  for (const [hex, textForm] of cases) {
    it(`formats and parses ${textForm}`, () => {
      expect(formatIp(Buffer.from(hex, 'hex'))).to.equal(textForm);
      expect(parseIp(textForm)?.toString('hex')).to.equal(hex);
    });
  }

  it('rejects what is not an address', () => {
    for (const t of ['1.2.3', '256.1.1.1', '1::2::3', 'g::1', '1:2:3:4:5:6:7:8:9', '']) expect(parseIp(t), t).to.equal(undefined);
    expect(formatIp(Buffer.from([1, 2, 3]))).to.equal(undefined);
  });
});
