/**
 * Inter-processor interrupts each core has taken, from /proc/interrupts: reschedule (RES) and
 * function-call (CAL) interrupts, the two a wake-up of a task on another core sends. In a KVM
 * guest sending one costs the sender an exit to the host, unless the target core is idle and
 * polling (the haltpoll cpuidle driver), when a wake-up needs none. So how busy the other core is
 * changes what the SUT pays per wake-up of its load generator and databases, with the SUT's own
 * system calls unchanged (bench/RESULTS-overhead.md, Session 11).
 */
import { readFileSync } from 'node:fs';

const KINDS = new Set(['RES', 'CAL']);

/** Per CPU, the sum of its RES and CAL counts; one entry per CPU column of the header. */
export function parseIpis(text: string): number[] {
  const [header = '', ...rows] = text.split('\n');
  const cpus = header.trim().split(/\s+/).filter((c) => /^CPU\d+$/.test(c)).length;
  const sums = new Array<number>(cpus).fill(0);
  for (const row of rows) {
    const fields = row.trim().split(/\s+/);
    if (!KINDS.has((fields[0] ?? '').replace(/:$/, ''))) continue;
    for (let i = 0; i < cpus; i++) sums[i] = (sums[i] ?? 0) + Number(fields[i + 1] ?? NaN);
  }
  return sums;
}

export function readIpis(): number[] {
  return parseIpis(readFileSync('/proc/interrupts', 'utf8'));
}

/** What each core took between two readings. */
export function ipisBetween(before: readonly number[], after: readonly number[]): number[] {
  return after.map((a, i) => a - (before[i] ?? NaN));
}
