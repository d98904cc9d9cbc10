/**
 * What every benchmark prints: a header with the machine facts and the load average, one aligned
 * plain-text table, and one `BENCH_JSON {...}` line for machines.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, release } from 'node:os';

export interface MachineFacts {
  nproc: number;
  cpu: string;
  kernel: string;
  node: string;
}

export function machineFacts(): MachineFacts {
  let cpu = 'unknown';
  try {
    cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux: keep "unknown"
  }
  return { nproc: availableParallelism(), cpu, kernel: release(), node: process.version };
}

/** The 1, 5 and 15 minute load averages, two decimals. */
export function load(): [number, number, number] {
  const [a = 0, b = 0, c = 0] = loadavg().map((x) => Math.round(x * 100) / 100);
  return [a, b, c];
}

export function loadText(l: readonly number[] = load()): string {
  return l.map((x) => x.toFixed(2)).join(' ');
}

export type Cell = string | number | undefined;

/** Formats a number for a table: integers with thousands separators, others to `digits`. */
export function fmt(x: number | undefined, digits = 1): string {
  if (x === undefined || Number.isNaN(x)) return '-';
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  if (Number.isInteger(x)) return String(x);
  return x.toFixed(digits);
}

/** An aligned table: text columns left, numeric columns right. */
export function table(headers: readonly string[], rows: readonly Cell[][]): string {
  const text = rows.map((r) => headers.map((_, i) => cellText(r[i])));
  const numeric = headers.map((_, i) => rows.every((r) => typeof r[i] !== 'string' || /^[-\d.,%x× ]+$/.test(String(r[i]))));
  const width = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (numeric[i] && i > 0 ? c.padStart(width[i] ?? 0) : c.padEnd(width[i] ?? 0))).join('  ').trimEnd();
  return [line(headers), line(width.map((w) => '-'.repeat(w))), ...text.map(line)].join('\n');
}

function cellText(c: Cell): string {
  if (c === undefined) return '-';
  return typeof c === 'number' ? fmt(c) : c;
}

export interface Header {
  bench: string;
  what: string;
  startedLoad: [number, number, number];
}

/** Prints the title block and returns what the JSON line repeats. */
export function header(bench: string, what: string): Header {
  const m = machineFacts();
  const startedLoad = load();
  console.log(`\n== ${bench}: ${what}`);
  console.log(`   nproc=${m.nproc} cpu="${m.cpu}" node=${m.node} kernel=${m.kernel} load at start=${loadText(startedLoad)}`);
  return { bench, what, startedLoad };
}

/** Prints the table, the load at the end, and the JSON line. */
export function finish(h: Header, headers: readonly string[], rows: readonly Cell[][], json: Record<string, unknown>, notes: string[] = []): void {
  const endLoad = load();
  console.log(table(headers, rows));
  for (const n of notes) console.log(`   ${n}`);
  console.log(`   load at end=${loadText(endLoad)}`);
  console.log(`BENCH_JSON ${JSON.stringify({ bench: h.bench, machine: machineFacts(), loadStart: h.startedLoad, loadEnd: endLoad, ...json }, bigintSafe)}`);
}

function bigintSafe(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/**
 * A distribution-free confidence interval for the median: the k-th smallest and k-th largest
 * values, k the largest rank whose interval covers the median with at least `level` probability
 * (each value falls below the median with probability 1/2, so the count below is Binomial(n, 1/2)).
 * It assumes nothing about the spread, which on this VM is neither normal nor steady. Undefined
 * when there are too few values for that level (fewer than 6 at 95 %).
 */
export function medianCi(xs: readonly number[], level = 0.95): [number, number] | undefined {
  const n = xs.length;
  const s = [...xs].sort((a, b) => a - b);
  // P(X < k) for X ~ Binomial(n, 1/2), summed upwards; the interval [x_k, x_(n-k+1)] (1-based)
  // misses the median with probability 2 P(X < k).
  let below = 0;
  let term = 0.5 ** n; // P(X = 0)
  let k = 0;
  for (let i = 0; i < n; i++) {
    below += term;
    if (2 * below > 1 - level) break;
    k = i + 1;
    term = (term * (n - i)) / (i + 1);
  }
  if (k === 0) return undefined;
  return [s[k - 1] as number, s[n - k] as number];
}

/** The p-quantile (0..1) of already sorted values, nearest rank. */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}
