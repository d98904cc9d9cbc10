import { expect } from 'chai';
import { StorePacer } from '../../src/gateway/store-pacer.js';

/** A store stand-in: handling a message queues its size; drain() writes until told. */
function fakeStore() {
  const s = {
    queued: 0,
    waiters: [] as { bytes: number; resolve: () => void }[],
    drained(bytes: number): Promise<void> {
      if (s.queued <= bytes) return Promise.resolve();
      return new Promise((resolve) => s.waiters.push({ bytes, resolve }));
    },
    /** The disk writes `n` bytes. */
    write(n: number): void {
      s.queued = Math.max(0, s.queued - n);
      const ready = s.waiters.filter((w) => s.queued <= w.bytes);
      s.waiters = s.waiters.filter((w) => s.queued > w.bytes);
      for (const w of ready) w.resolve();
    },
  };
  return s;
}

const settle = () => new Promise<void>((r) => setImmediate(r));

describe('StorePacer', () => {
  it('holds messages, in order, while the store is past its high mark, and goes on once it is down to the low mark', async () => {
    const store = fakeStore();
    const handled: number[] = [];
    const holds: boolean[] = [];
    const pacer = new StorePacer<number>({
      handle: (m) => {
        handled.push(m);
        store.queued += 40;
      },
      queuedBytes: () => store.queued,
      drained: (b) => store.drained(b),
      highBytes: 100,
      lowBytes: 20,
      onHold: (h) => holds.push(h),
    });
    for (let m = 1; m <= 6; m++) pacer.push(m);
    // 40, 80, 120: past 100 after the third, so 4..6 wait.
    expect(handled).to.deep.equal([1, 2, 3]);
    expect(pacer.holding).to.equal(3);
    expect(holds).to.deep.equal([true]);

    store.write(50); // 70 left: above the low mark, still holding
    await settle();
    expect(handled).to.deep.equal([1, 2, 3]);

    store.write(60); // 10 left: 4, 5, 6 go, and put the store at 130, past the high mark again
    await settle();
    expect(handled).to.deep.equal([1, 2, 3, 4, 5, 6]);
    pacer.push(7);
    expect(handled, 'still holding: 7 waits').to.have.length(6);
    expect(pacer.holding).to.equal(1);

    store.write(1000);
    await settle();
    expect(handled).to.deep.equal([1, 2, 3, 4, 5, 6, 7]);
    expect(pacer.holding).to.equal(0);
    expect(holds).to.deep.equal([true, false]);
    pacer.push(8);
    expect(handled.at(-1), 'handled at once when the store keeps up').to.equal(8);
  });

  it('goes on when the store gives up (a failed store resolves drained)', async () => {
    let queued = 0;
    const handled: string[] = [];
    const pacer = new StorePacer<string>({
      handle: (m) => {
        handled.push(m);
        queued += 10;
      },
      queuedBytes: () => queued,
      drained: async () => {
        queued = 0; // what a failed store does: drops its queue, counted
      },
      highBytes: 5,
      lowBytes: 0,
    });
    pacer.push('a');
    pacer.push('b');
    expect(handled).to.deep.equal(['a']);
    await settle();
    expect(handled).to.deep.equal(['a', 'b']);
  });

  it('rejects marks that cannot work', () => {
    const o = { handle: () => {}, queuedBytes: () => 0, drained: async () => {} };
    expect(() => new StorePacer({ ...o, highBytes: 10, lowBytes: 10 })).to.throw(RangeError);
    expect(() => new StorePacer({ ...o, highBytes: 10, lowBytes: -1 })).to.throw(RangeError);
  });
});
