import { expect } from 'chai';
import { sampleSession, talk, v4 } from './sample-session.js';
import { decodeSessionLine, encodeSessionLine } from '../../src/store/session-codec.js';
import { isKoalaError } from '../../src/errors.js';

describe('session codec', () => {
  it('round-trips a session with binary, UTF-8 and empty payloads, IPv6 and unix addresses', () => {
    const s = sampleSession();
    expect(decodeSessionLine(encodeSessionLine(s))).to.deep.equal(s);
  });

  it('writes readable text as text, binary and control characters as base64, 64-bit numbers as strings', () => {
    const o = JSON.parse(encodeSessionLine(sampleSession()));
    expect(o.v).to.equal(1);
    expect(o.inbound.request).to.deep.equal({ text: 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' });
    expect(o.inbound.response).to.deep.equal({ text: 'HTTP/1.1 200 OK\r\n\r\nhéllo ✓' });
    expect(o.talks[0].request).to.deep.equal({ base64: 'AAEC//4=' });
    expect(o.talks[1].request).to.deep.equal({ text: '' });
    expect(o.vtid).to.equal('9007199254740993');
    expect(o.endReason).to.equal('SESSION_END_REASON_IDLE');
    expect(o.agent).to.equal('AGENT_KIND_C_SHIM');
    expect(o.inbound.peer).to.deep.equal({ family: 'ADDRESS_FAMILY_INET', ip: '127.0.0.1', port: 40000 });
    expect(o.inbound.local).to.deep.equal({ family: 'ADDRESS_FAMILY_INET6', ip: '2001:db8::1', port: 8080 });
    expect(o.preludes[0].peer).to.deep.equal({ family: 'ADDRESS_FAMILY_UNIX', path: '/run/mysql.sock' });
    expect(o.preludes[0].talks[0].response).to.have.property('base64');
  });

  it('matches the golden line for a small session', () => {
    const s = sampleSession({ talks: [], preludes: [], completeness: { droppedEvents: 0n, truncatedBytes: 0n, seqGaps: 0n, notes: [] } });
    s.inbound!.request = Buffer.from('ping\n');
    s.inbound!.response = Buffer.from([0x1b, 0x5b]);
    s.inbound!.local = v4([127, 0, 0, 1], 8080);
    expect(encodeSessionLine(s)).to.equal(
      '{"v":1,"id":"01700000000000000000-100-10-1","sut":"svc","pid":100,"agent":"AGENT_KIND_C_SHIM","hostname":"host1",' +
        '"vtid":"9007199254740993","startedNs":"1700000000000000000","endedNs":"1700000000000000999",' +
        '"endReason":"SESSION_END_REASON_IDLE","replayOf":"","inbound":{"connId":"1",' +
        '"peer":{"family":"ADDRESS_FAMILY_INET","ip":"127.0.0.1","port":40000},' +
        '"local":{"family":"ADDRESS_FAMILY_INET","ip":"127.0.0.1","port":8080},' +
        '"requestNs":"1700000000000000000","responseNs":"1700000000000000500","requestLen":"27","responseLen":"29",' +
        '"request":{"text":"ping\\n"},"response":{"base64":"G1s="}},"talks":[],"preludes":[],' +
        '"completeness":{"droppedEvents":"0","truncatedBytes":"0","seqGaps":"0","notes":[]}}',
    );
  });

  it('round-trips a 5 MB binary payload and a 5 MB text payload', () => {
    const bin = Buffer.alloc(5 * 1024 * 1024);
    for (let i = 0; i < bin.length; i++) bin[i] = (i * 31 + 7) & 0xff;
    const txt = Buffer.from('a'.repeat(5 * 1024 * 1024));
    const s = sampleSession({ talks: [talk(0, bin, txt)] });
    const back = decodeSessionLine(encodeSessionLine(s));
    expect(back.talks[0]!.request.equals(bin)).to.equal(true);
    expect(back.talks[0]!.response.equals(txt)).to.equal(true);
  });

  it('keeps a UTF-8 BOM and invalid UTF-8 byte for byte', () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf, 0x68, 0x69]);
    const bad = Buffer.from([0x68, 0xc3, 0x28]);
    const s = sampleSession({ talks: [talk(0, bom, bad)] });
    const back = decodeSessionLine(encodeSessionLine(s));
    expect(back.talks[0]!.request.equals(bom)).to.equal(true);
    expect(back.talks[0]!.response.equals(bad)).to.equal(true);
  });

  const bad: [string, string][] = [
    ['not JSON', '{"v":1,"id":'],
    ['wrong version', '{"v":2,"id":"x"}'],
    ['no id', '{"v":1}'],
    ['number as JSON number', '{"v":1,"id":"x","vtid":12}'],
    ['unknown enum', '{"v":1,"id":"x","endReason":"SESSION_END_REASON_BOGUS"}'],
    ['bytes of neither kind', '{"v":1,"id":"x","inbound":{"request":"abc"}}'],
    ['bad base64', '{"v":1,"id":"x","inbound":{"request":{"base64":"@@@"}}}'],
    ['bad ip', '{"v":1,"id":"x","inbound":{"peer":{"family":"ADDRESS_FAMILY_INET","ip":"300.1.1.1","port":1}}}'],
    ['talks not an array', '{"v":1,"id":"x","talks":{}}'],
    ['an array line', '[1,2]'],
  ];
  for (const [why, line] of bad) {
    it(`rejects a malformed line: ${why}`, () => {
      let caught: unknown;
      try {
        decodeSessionLine(line);
      } catch (err) {
        caught = err;
      }
      expect(isKoalaError(caught, 'KOALA_ERR_STORE_CORRUPT_LINE'), String(caught)).to.equal(true);
    });
  }
});

describe('docs/session-format.md', () => {
  it('its example line decodes and encodes back to the same line', async () => {
    const { readFile } = await import('node:fs/promises');
    const doc = await readFile(new URL('../../docs/session-format.md', import.meta.url), 'utf8');
    const line = /```json\n(.*)\n```/.exec(doc)?.[1];
    expect(line, 'example block').to.be.a('string');
    expect(encodeSessionLine(decodeSessionLine(line!))).to.equal(line);
  });
});
