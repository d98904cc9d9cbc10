import { expect } from 'chai';
import { medianCi } from '../../bench/lib/report.js';

describe('bench report: medianCi', () => {
  it('has no interval for too few values at 95 %', () => {
    // With 5 values even the full range misses the median with probability 2/32 > 5 %.
    expect(medianCi([1, 2, 3, 4, 5])).to.equal(undefined);
  });

  it('gives the full range for 6 values (2/64 < 5 %)', () => {
    expect(medianCi([6, 1, 5, 2, 4, 3])).to.deep.equal([1, 6]);
  });

  it('uses the binomial ranks: the 6th smallest and 6th largest of 20', () => {
    // P(Binomial(20, 1/2) <= 5) = 0.0207 (2x: 0.041 < 5 %), P(<= 6) = 0.0577 (2x too much).
    const xs = Array.from({ length: 20 }, (_, i) => 20 - i);
    expect(medianCi(xs)).to.deep.equal([6, 15]);
  });

  it('narrows with a lower level', () => {
    const xs = Array.from({ length: 20 }, (_, i) => i + 1);
    const [lo80, hi80] = medianCi(xs, 0.8) as [number, number];
    expect(lo80).to.be.greaterThan(6);
    expect(hi80).to.be.lessThan(15);
  });
});
