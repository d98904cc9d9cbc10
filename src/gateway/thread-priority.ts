/**
 * Thread priorities for a gateway sharing the SUT's machine. Linux's setpriority(2) takes a thread
 * id, so one thread can be lowered without the rest; a thread inherits its creator's nice value.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** Lowers the calling thread to `nice`; returns the value now in force, undefined if it could not. */
export function lowerCurrentThread(nice: number): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return undefined;
    setPriority(tid, nice);
    return getPriority(tid);
  } catch {
    return undefined;
  }
}

/**
 * Lowers every thread of this process (the main one, V8's GC and compiler helpers, libuv's pool,
 * workers) to `nice`; returns how many threads run at it. Threads started later inherit it from
 * their creator. Only for a process that is the gateway: an embedding application's threads are
 * its own business.
 */
export function lowerAllThreads(nice: number): number {
  let n = 0;
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return 0;
  }
  for (const t of tids) {
    const tid = Number(t);
    try {
      if (getPriority(tid) < nice) setPriority(tid, nice);
      n++;
    } catch {
      // The thread ended meanwhile, or this is not Linux.
    }
  }
  return n;
}
