import { expect } from 'chai';
import { ipisBetween, parseIpis } from '../../bench/lib/interrupts.js';

// Lines as this VM's kernel prints them (trimmed): device rows carry a chip and a name after the
// counts, the summary rows a description.
const SAMPLE = `           CPU0       CPU1
  0:         57          0   IO-APIC   2-edge      timer
 24:     120391     873241   PCI-MSI 49152-edge      virtio0-input.0
NMI:          0          0   Non-maskable interrupts
LOC:     848524    1070968   Local timer interrupts
RES:   13916641      14805   Rescheduling interrupts
CAL:    4947261     127482   Function call interrupts
TLB:       1201        980   TLB shootdowns
ERR:          0
`;

describe('bench interrupts: parseIpis', () => {
  it('sums the reschedule and function-call rows per CPU, and nothing else', () => {
    expect(parseIpis(SAMPLE)).to.deep.equal([13916641 + 4947261, 14805 + 127482]);
  });

  it('has one entry per CPU column of the header', () => {
    const four = `  CPU0 CPU1 CPU2 CPU3\nRES: 1 2 3 4 Rescheduling interrupts\nCAL: 10 20 30 40 Function call interrupts\n`;
    expect(parseIpis(four)).to.deep.equal([11, 22, 33, 44]);
  });

  it('gives the counts taken between two readings', () => {
    expect(ipisBetween([5, 7], [9, 8])).to.deep.equal([4, 1]);
  });
});
