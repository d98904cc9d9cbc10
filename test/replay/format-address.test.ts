import { expect } from 'chai';
import { AddressFamily, type Address } from '../../src/generated/koala/v1/agent.pb.js';
import { formatAddress, makeAddress, sameAddress } from '../../src/replay/format-address.js';

const unix = (path: string): Address => ({ family: AddressFamily.ADDRESS_FAMILY_UNIX, ip: Buffer.alloc(0), port: 0, path });

describe('sameAddress', () => {
  const samples: Address[] = [
    makeAddress('127.0.0.1', 80),
    makeAddress('127.0.0.1', 81),
    makeAddress('10.0.0.1', 80),
    makeAddress('::1', 80),
    makeAddress('::1', 81),
    makeAddress('fe80::1', 80),
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
