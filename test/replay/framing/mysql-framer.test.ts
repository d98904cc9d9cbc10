import { expect } from 'chai';
import { MYSQL_MAX_PAYLOAD, MysqlFramer, mysqlErrPacket, mysqlQueryText } from '../../../src/replay/framing/mysql-framer.js';

function packet(seq: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = seq;
  return Buffer.concat([h, payload]);
}

describe('MysqlFramer', () => {
  it('frames one COM_QUERY packet and reads its SQL', () => {
    const q = packet(0, Buffer.concat([Buffer.from([3]), Buffer.from('SELECT 1')]));
    const f = new MysqlFramer();
    expect(f.frame(q.subarray(0, 3))).to.deep.equal({ status: 'incomplete', need: 4 });
    expect(f.frame(q.subarray(0, q.length - 1))).to.deep.equal({ status: 'incomplete', need: q.length });
    expect(f.frame(q)).to.deep.equal({ status: 'complete', length: q.length });
    expect(mysqlQueryText(q)).to.equal('SELECT 1');
  });

  it('joins a >16 MB command split into a maximum packet and a short one', () => {
    const big = packet(0, Buffer.alloc(MYSQL_MAX_PAYLOAD, 0x61));
    const tail = packet(1, Buffer.from('end'));
    const f = new MysqlFramer();
    expect(f.frame(big)).to.deep.equal({ status: 'incomplete', need: big.length + 4 });
    expect(f.frame(Buffer.concat([big, tail]))).to.deep.equal({ status: 'complete', length: big.length + tail.length });
  });

  it('builds an ERR packet with the next sequence id', () => {
    const err = mysqlErrPacket(0, 'koala: no recorded talk');
    expect(err.readUIntLE(0, 3)).to.equal(err.length - 4);
    expect(err[3]).to.equal(1);
    expect(err[4]).to.equal(0xff);
    expect(err.toString('latin1', 7, 13)).to.equal('#HY000');
  });
});
