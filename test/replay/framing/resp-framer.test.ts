import { expect } from 'chai';
import { takeMessages } from '../../../src/replay/framing/framer.js';
import { RespFramer, respCommandWords } from '../../../src/replay/framing/resp-framer.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('RespFramer', () => {
  it('frames a command array and waits for a split bulk string', () => {
    const cmd = b('*2\r\n$3\r\nGET\r\n$3\r\nk:x\r\n');
    const f = new RespFramer();
    for (let i = 1; i < cmd.length; i++) expect(f.frame(cmd.subarray(0, i)).status, `at ${i}`).to.equal('incomplete');
    expect(f.frame(cmd)).to.deep.equal({ status: 'complete', length: cmd.length });
  });

  it('says how many bytes a split bulk string needs, nested ones included', () => {
    expect(new RespFramer().frame(b('$10\r\nabc'))).to.deep.equal({ status: 'incomplete', need: 17 });
    expect(new RespFramer().frame(b('*2\r\n$3\r\nGET\r\n$10\r\nab'))).to.deep.equal({ status: 'incomplete', need: 13 + 17 });
    expect(new RespFramer().frame(b('*2\r\n$3\r\nGET\r\n$1'))).to.deep.equal({ status: 'incomplete' });
  });

  it('counts three pipelined commands in one write', () => {
    const three = b('*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n');
    expect(takeMessages(new RespFramer(), three)).to.deep.include({ count: 3, length: three.length });
  });

  it('frames replies: nil bulk, nested arrays, RESP3 maps, errors', () => {
    const f = new RespFramer();
    for (const s of ['$-1\r\n', '*2\r\n*1\r\n:1\r\n+OK\r\n', '%1\r\n+a\r\n:2\r\n', '-ERR x\r\n', '*-1\r\n']) {
      expect(f.frame(b(s)), s).to.deep.equal({ status: 'complete', length: s.length });
    }
  });

  it('frames inline commands at the newline', () => {
    expect(new RespFramer().frame(b('PING\r\nGET'))).to.deep.equal({ status: 'complete', length: 6 });
    expect(new RespFramer().frame(b('PIN')).status).to.equal('incomplete');
  });

  it('rejects a bulk string whose terminator is wrong', () => {
    expect(new RespFramer().frame(b('$3\r\nabcd\r\n')).status).to.equal('invalid');
  });

  it('decodes command words for reports', () => {
    expect(respCommandWords(b('*2\r\n$3\r\nGET\r\n$3\r\nk:x\r\n'))).to.deep.equal(['GET', 'k:x']);
    expect(respCommandWords(b('PING now\r\n'))).to.deep.equal(['PING', 'now']);
  });
});
