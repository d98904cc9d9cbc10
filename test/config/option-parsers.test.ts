import { expect } from 'chai';
import { parseBytes, parseDurationMs, parseHostPort } from '../../src/config/option-parsers.js';

describe('option parsers', () => {
  it('parses durations', () => {
    expect(parseDurationMs('100ms')).to.equal(100);
    expect(parseDurationMs('2s')).to.equal(2000);
    expect(parseDurationMs('1h2m3s')).to.equal(3_723_000);
    expect(parseDurationMs('250')).to.equal(250);
    expect(parseDurationMs('1.5s')).to.equal(1500);
    for (const bad of ['', 's', '2 s', '2x', '-1s', 'ms100']) expect(() => parseDurationMs(bad), bad).to.throw(/duration/);
  });

  it('parses byte counts', () => {
    expect(parseBytes('16MiB')).to.equal(16 * 1024 * 1024);
    expect(parseBytes('64 KiB')).to.equal(65536);
    expect(parseBytes('1000')).to.equal(1000);
    expect(parseBytes('2kb')).to.equal(2000);
    for (const bad of ['', '0', 'MiB', '1.5MiB', '10 parsecs']) expect(() => parseBytes(bad), bad).to.throw(/byte count/);
  });

  it('parses host:port forms', () => {
    expect(parseHostPort('10.1.2.3:80')).to.deep.equal({ host: '10.1.2.3', port: 80 });
    expect(parseHostPort(':0')).to.deep.equal({ host: '127.0.0.1', port: 0 });
    expect(parseHostPort('[::1]:2517')).to.deep.equal({ host: '::1', port: 2517 });
    expect(parseHostPort('localhost:1')).to.deep.equal({ host: 'localhost', port: 1 });
    for (const bad of ['', '80', 'a:b', '[nope]:1', 'h:70000']) expect(() => parseHostPort(bad), bad).to.throw();
  });
});
