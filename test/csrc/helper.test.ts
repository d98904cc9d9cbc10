// The helper protocol (sendto 127.127.127.127:127): HELPER events, vtid delegation, one-way
// BOUNDARY, thread-shutdown, and THREAD_EXIT of a thread that produced events.
import { expect } from 'chai';

import { EventKind as K } from '../../src/generated/koala/v1/agent.pb.js';
import { compile, runRecorded, withFakeGateway } from './shim-harness.js';

describe('csrc helper protocol', function () {
  this.timeout(30000);
  const t = withFakeGateway();

  it('applies delegation, one-way and thread-shutdown, and reports each as a HELPER event', async () => {
    const { res, events } = await runRecorded(t.gw, compile(t.dir, 'helper'));
    const c = Number(res.out.c);
    const helpers = events.filter((e) => e.kind === K.EVENT_KIND_HELPER);
    expect(helpers.map((e) => [Buffer.from(e.payload).toString(), e.flags])).to.deep.equal([
      ['to-koala!one-way', BigInt(c)],
      ['to-koala!set-delegated-from-thread-id', 4242n],
      ['to-koala!set-delegated-from-thread-id', 0n],
      ['to-koala!thread-shutdown\nbody', 4242n],
    ]);
    // The helper datagrams never became DATAGRAM events (they were not sent).
    expect(events.filter((e) => e.kind === K.EVENT_KIND_DATAGRAM)).to.deep.equal([]);

    const mainConn = events.find((e) => e.kind === K.EVENT_KIND_CONNECT && e.fd === c)!;
    const boundary = events.filter((e) => e.kind === K.EVENT_KIND_BOUNDARY);
    expect(boundary).to.have.length(1);
    expect(boundary[0]!.connId).to.equal(mainConn.connId);
    const sendIdx = events.findIndex((e) => e.kind === K.EVENT_KIND_SEND && e.connId === mainConn.connId);
    expect(events.indexOf(boundary[0]!)).to.be.greaterThan(sendIdx);

    const delegated = events.find((e) => e.kind === K.EVENT_KIND_SEND && Buffer.from(e.payload).toString() === 'delegated')!;
    const own = events.find((e) => e.kind === K.EVENT_KIND_SEND && Buffer.from(e.payload).toString() === 'own')!;
    expect(delegated.vtid).to.equal(4242n);
    expect(own.vtid).to.equal(0n);
    expect(own.tid).to.equal(delegated.tid);
    expect(own.tid).to.not.equal(BigInt(res.pid));
    // the worker's CONNECT happened while delegated too
    expect(events.find((e) => e.kind === K.EVENT_KIND_CONNECT && e.connId === delegated.connId)!.vtid).to.equal(4242n);

    const exits = events.filter((e) => e.kind === K.EVENT_KIND_THREAD_EXIT);
    expect(exits.map((e) => e.tid)).to.deep.equal([delegated.tid]);
  });
});
