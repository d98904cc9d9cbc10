/**
 * pool: the round-by-round ratios of several `overhead-cpu.ts --json FILE` runs taken together.
 * On a box whose speed swings between rounds (this VM's plain rounds span 0.55–1.8× of each
 * other while the SUT makes the same system calls per request), one run of 12 rounds leaves a 95 %
 * interval of about ±0.1 around the median ratio; only more rounds narrow it, and they need not
 * come from one run. Rounds are paired within their own run (the k-th plain run with the k-th run
 * of each variant, which ran next to each other), then pooled.
 *
 *   node --import tsx bench/overhead-pool.ts FILE.json [FILE.json ...] [--sut go] [--conns 16]
 *
 * Runs are matched on their title: only those of the given SUT and connection count are pooled,
 * so a run at another load is not mixed in. Prints, per variant: rounds, median of the pooled
 * per-round ratios with its 95 % interval, and the ratio of the pooled totals (requests over seconds).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { paired, type MatrixResult, type Run } from './overhead-cpu.js';
import { median, medianCi } from './lib/report.js';

interface Pooled {
  variant: string;
  rounds: number;
  median: number;
  ci: [number, number] | undefined;
  totals: number;
}

/** Per variant, the paired ratios of every matching run, pooled. */
export function pool(runSets: readonly Run[][]): Pooled[] {
  const variants = [...new Set(runSets.flat().map((r) => r.variant))].filter((v) => v !== 'plain');
  const rps = (runs: Run[], v: string): number => {
    const mine = runs.filter((r) => r.variant === v);
    return mine.reduce((s, r) => s + r.requests, 0) / mine.reduce((s, r) => s + r.seconds, 0);
  };
  return variants.map((v) => {
    const sets = runSets.filter((runs) => runs.some((r) => r.variant === v));
    const ratios = sets.flatMap((runs) => paired(runs, v).rps);
    const withV = sets.flat();
    return { variant: v, rounds: ratios.length, median: median(ratios), ci: medianCi(ratios), totals: rps(withV, v) / rps(withV, 'plain') };
  });
}

function main(argv: string[]): void {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { sut: { type: 'string', default: 'go' }, conns: { type: 'string', default: '16' } },
  });
  if (positionals.length === 0) throw new Error('usage: overhead-pool.ts FILE.json [FILE.json ...] [--sut go|c] [--conns N]');
  const kind = values.sut === 'c' ? 'C SUT' : 'Go SUT';
  const sets: Run[][] = [];
  for (const file of positionals) {
    const out = JSON.parse(readFileSync(file, 'utf8')) as { title: string; result: MatrixResult }[];
    for (const { title, result } of out) {
      const take = title.startsWith(kind) && title.includes(` ${values.conns} connections,`);
      console.log(`${take ? 'pooled ' : 'skipped'} ${file}: ${title}`);
      if (take) sets.push(result.runs);
    }
  }
  console.log('\n| variant | rounds | median ratio to plain (95 % CI) | ratio of pooled totals |\n|---|---:|---|---:|');
  for (const p of pool(sets)) {
    const ci = p.ci ? ` (${p.ci[0].toFixed(3)}–${p.ci[1].toFixed(3)})` : '';
    console.log(`| ${p.variant} | ${p.rounds} | ${p.median.toFixed(3)}${ci} | ${p.totals.toFixed(3)} |`);
  }
}

if (process.argv[1] === new URL(import.meta.url).pathname) main(process.argv.slice(2));
