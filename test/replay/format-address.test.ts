import { expect } from 'chai';
import { AddressFamily, type Address } from '../../src/generated/koala/v1/agent.pb.js';
import { formatAddress } from '../../src/assembler/address-text.js';
import { KoalaError } from '../../src/errors.js';
import { makeAddress, sameAddress } from '../../src/replay/format-address.js';

const unix = (path: string): Address => ({ family: AddressFamily.ADDRESS_FAMILY_UNIX, ip: Buffer.alloc(0), port: 0, path });

describe('sameAddress', () => {
  const samples: Address[] = [
    makeAddress('127.0.0.1', 80),
    makeAddress('127.0.0.1', 81),
    makeAddress('10.0.0.1', 80),
    makeAddress('::1', 80),
    makeAddress('::1', 81),
    makeAddress('fe80::1', 80),
    makeAddress('::ffff:10.0.0.1', 80),
    makeAddress('::ffff:10.0.0.2', 80),
    unix('/tmp/a.sock'),
    unix('/tmp/b.sock'),
    unix('@abstract'),
  ];

  it('agrees with comparing the formatted addresses, for every pair', () => {
    for (const a of samples) {
      for (const b of samples) {
        expect(sameAddress(a, b), `${formatAddress(a)} vs ${formatAddress(b)}`).to.equal(formatAddress(a) === formatAddress(b));
      }
    }
  });

  it('is false when either side is missing', () => {
    expect(sameAddress(undefined, makeAddress('127.0.0.1', 80))).to.equal(false);
    expect(sameAddress(makeAddress('127.0.0.1', 80), undefined)).to.equal(false);
  });
});

describe('makeAddress', () => {
  it('encodes IPv4 as 4 bytes and IPv6 as 16, the family following the length', () => {
    expect(makeAddress('10.0.0.1', 80)).to.deep.equal({ family: AddressFamily.ADDRESS_FAMILY_INET, ip: Buffer.from([10, 0, 0, 1]), port: 80, path: '' });
    const v6 = makeAddress('fe80::1', 443);
    expect(v6.family).to.equal(AddressFamily.ADDRESS_FAMILY_INET6);
    expect(v6.ip.toString('hex')).to.equal('fe800000000000000000000000000001');
  });

  it('encodes an IPv4-mapped IPv6 address with its IPv4 tail in the last 4 bytes', () => {
    const a = makeAddress('::ffff:10.0.0.1', 3306);
    expect(a.family).to.equal(AddressFamily.ADDRESS_FAMILY_INET6);
    expect([...a.ip]).to.deep.equal([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]);
    expect(a.port).to.equal(3306);
    expect(formatAddress(a)).to.equal('[::ffff:10.0.0.1]:3306');
  });

  it('refuses text that is no IP address', () => {
    for (const bad of ['', 'localhost', '1.2.3', '1::2::3', '10.0.0.256']) {
      expect(() => makeAddress(bad, 1), bad).to.throw(KoalaError, /not an IPv4 or IPv6 address/);
    }
  });
});
