import { expect } from 'chai';
import { sutListenAddrs } from '../../src/cli/commands/replay.js';
import { parseHostPort } from '../../src/config/option-parsers.js';

describe('koala replay: addresses the started SUT must accept on', () => {
  it('keeps an IPv6 --sut-addr usable as a connect target', () => {
    expect(sutListenAddrs(parseHostPort('[::1]:8080'), new Map())).to.deep.equal([{ host: '::1', port: 8080 }]);
  });

  it('waits once per distinct --sut-map address and ignores --sut-addr when a map is given', () => {
    const map = new Map([
      ['a', parseHostPort('[::1]:8080')],
      ['b', parseHostPort('[::1]:8080')],
      ['c', parseHostPort(':8080')],
      ['d', parseHostPort('127.0.0.1:8080')],
    ]);
    expect(sutListenAddrs(parseHostPort('10.0.0.1:9'), map)).to.deep.equal([
      { host: '::1', port: 8080 },
      { host: '127.0.0.1', port: 8080 },
    ]);
  });
});
