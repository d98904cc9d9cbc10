import { expect } from 'chai';
import { detectProtocol, httpRequestMethods } from '../../../src/replay/framing/detect-protocol.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('detectProtocol', () => {
  it('names HTTP, RESP, MySQL and raw samples', () => {
    expect(detectProtocol(b('GET / HTTP/1.1\r\n\r\n'))).to.equal('http1');
    expect(detectProtocol(b('HTTP/1.1 200 OK\r\n'))).to.equal('http1');
    expect(detectProtocol(b('*1\r\n$4\r\nPING\r\n'))).to.equal('resp');
    expect(detectProtocol(b('\x09\x00\x00\x00\x03SELECT 1'))).to.equal('mysql');
    expect(detectProtocol(b('hello there'))).to.equal('raw');
  });

  it('trusts a MySQL greeting over the sample', () => {
    const greeting = Buffer.concat([Buffer.from([5, 0, 0, 0, 0x0a]), b('5.7\0')]).subarray(0, 9);
    greeting.writeUIntLE(5, 0, 3);
    expect(detectProtocol(b('anything'), greeting)).to.equal('mysql');
  });

  it('lists pipelined request methods', () => {
    expect(httpRequestMethods(b('HEAD / HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n'))).to.deep.equal(['HEAD', 'GET']);
  });
});
