import { expect } from 'chai';
import { AddressFamily } from '../../src/generated/koala/v1/agent.pb.js';
import { sameAddress } from '../../src/replay/format-address.js';
import { fromReferenceSession } from '../../src/replay/reference-session.js';

const b64 = (t: string): string => Buffer.from(t).toString('base64');

function reference(peers: unknown[]): unknown {
  return {
    SessionId: 'ref',
    CallFromInbound: { Request: b64('GET / HTTP/1.1\r\n\r\n') },
    ReturnInbound: { Response: b64('HTTP/1.1 200 OK\r\n\r\n') },
    CallOutbounds: peers.map((Peer) => ({ Peer, Request: b64('PING'), Response: b64('PONG') })),
  };
}

describe('fromReferenceSession', () => {
  it('keys a talk on the byte form the agent reports, IPv4-mapped peers included', () => {
    const s = fromReferenceSession(reference([{ IP: '::ffff:10.0.0.1', Port: 3306 }, { IP: '10.0.0.1', Port: 6379 }]));
    const mapped = { family: AddressFamily.ADDRESS_FAMILY_INET6, ip: Buffer.from('00000000000000000000ffff0a000001', 'hex'), port: 3306, path: '' };
    const v4 = { family: AddressFamily.ADDRESS_FAMILY_INET, ip: Buffer.from([10, 0, 0, 1]), port: 6379, path: '' };
    expect(sameAddress(s.talks[0]?.peer, mapped)).to.equal(true);
    expect(sameAddress(s.talks[1]?.peer, v4)).to.equal(true);
  });

  it('leaves a peer that is no IP address unset (that talk can never match)', () => {
    const s = fromReferenceSession(reference([{ IP: 'db.local', Port: 3306 }, { IP: '10.0.0.1' }]));
    expect(s.talks.map((t) => t.peer)).to.deep.equal([undefined, undefined]);
  });
});
