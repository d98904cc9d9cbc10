/** Threads of a process as the scheduler sees them. */
import { readdirSync, readFileSync } from 'node:fs';

/** Nice value of each thread of `pid` (default: this process), from /proc/<pid>/task/<tid>/stat field 19. */
export function threadNices(pid: number | 'self' = 'self'): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      out.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
    } catch {
      // The thread ended while we looked.
    }
  }
  return out;
}
