import { expect } from 'chai';
import { SlotMap } from '../../src/assembler/slot-map.js';

describe('SlotMap', () => {
  it('gets what was set, and nothing once emptied or removed', () => {
    const m = new SlotMap<bigint, { n: number }>();
    const a = { n: 1 };
    m.set(1n, a);
    expect(m.get(1n)).to.equal(a);
    m.empty(1n);
    expect(m.get(1n)).to.equal(undefined);
    m.set(1n, { n: 2 });
    expect(m.get(1n)?.n).to.equal(2);
    m.remove(1n);
    expect(m.get(1n)).to.equal(undefined);
    expect(m.size).to.equal(0);
    expect(m.emptySlots).to.equal(0);
  });

  it('counts keys with a value, and keeps emptied keys apart', () => {
    const m = new SlotMap<number, object>();
    for (let i = 0; i < 5; i++) m.set(i, {});
    m.set(0, {}); // a new value for a key that has one: still one
    m.empty(1);
    m.empty(1); // emptying twice counts once
    m.remove(2);
    m.remove(99); // unknown keys are ignored
    m.empty(98);
    expect(m.size).to.equal(3);
    expect(m.emptySlots).to.equal(1);
    expect([...m.values()]).to.have.length(3);
    m.set(1, {});
    expect(m.size).to.equal(4);
    expect(m.emptySlots).to.equal(0);
  });

  it('iterates only values, and a value emptied during the walk is skipped', () => {
    const m = new SlotMap<number, { k: number }>();
    for (let k = 0; k < 4; k++) m.set(k, { k });
    const seen: number[] = [];
    for (const v of m.values()) {
      seen.push(v.k);
      if (v.k === 0) m.empty(2);
    }
    expect(seen).to.deep.equal([0, 1, 3]);
  });

  it('sweeps empty keys only past the limit, keeping the values', () => {
    const m = new SlotMap<number, { k: number }>();
    for (let k = 0; k < 10; k++) m.set(k, { k });
    for (let k = 0; k < 6; k++) m.empty(k);
    m.sweep(6);
    expect(m.emptySlots).to.equal(6);
    m.sweep(5);
    expect(m.emptySlots).to.equal(0);
    expect([...m.values()].map((v) => v.k)).to.deep.equal([6, 7, 8, 9]);
    expect(m.get(7)?.k).to.equal(7);
  });
});
