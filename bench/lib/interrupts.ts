/**
 * Inter-processor interrupts each core has taken, from /proc/interrupts: reschedule (RES) and
 * function-call (CAL) interrupts, the two a wake-up of a task on another core sends. A core idling
 * in the haltpoll cpuidle driver polls and needs none; a busy one does, and in a KVM guest sending
 * one is normally an exit to the host for the sender. On this VM they rise with how busy the other
 * core is, in the same order as the SUT's throughput falls, its system calls unchanged: a likely
 * part of what a neighbour costs it, not proven (bench/RESULTS-overhead.md, Session 11).
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
