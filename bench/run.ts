/**
 * Runs the benchmarks, each in its own node process (so one's memory and JIT state do not bill
 * the next), in a fixed order, and prints their tables. `npm run bench` runs all but the long
 * `overhead-cpu`; `npm run bench -- shim ingest` runs those by name; arguments after a second
 * `--` go to each one (e.g. `npm run bench -- replay -- --seconds 2`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));

/** name → script; `go` and `overhead-cpu` are maintained by the Go hooks' owner and run if present. */
export const BENCHMARKS: ReadonlyArray<{ name: string; file: string; what: string; onlyByName?: boolean }> = [
  { name: 'shim', file: 'shim-cost.ts', what: 'ns per intercepted call, with and without the shim' },
  { name: 'http-sut', file: 'http-sut-throughput.ts', what: 'C HTTP SUT throughput and latency, plain vs recorded' },
  { name: 'ingest', file: 'gateway-ingest.ts', what: 'gateway ingest rate from a synthetic shim agent' },
  { name: 'replay', file: 'replay-throughput.ts', what: 'replayed sessions/s (node SUT), mock latency, match time' },
  { name: 'replay-c', file: 'replay-c-sut.ts', what: 'replayed sessions/s, real C SUT under the shim' },
  { name: 'framing', file: 'framing-chunks.ts', what: 'replay framing of a chunked body arriving a chunk at a time' },
  { name: 'go', file: 'go-overhead.ts', what: 'Go hooks overhead' },
  // Need a dump of real agent traffic (--frames FILE, from overhead-cpu.ts --sink-dump): by name only.
  { name: 'assembly', file: 'assembly-cost.ts', what: 'assembly CPU per session on recorded Go traffic, one thread (needs --frames)', onlyByName: true },
  { name: 'instructions', file: 'assembly-instructions.ts', what: 'assembly instructions per session under valgrind, deterministic (needs --frames)', onlyByName: true },
  { name: 'feed', file: 'gateway-feed.ts', what: 'koala gateway CPU per session fed recorded Go traffic (needs --frames)', onlyByName: true },
  // Several minutes and a superset of `go`: run only when named.
  { name: 'overhead-cpu', file: 'overhead-cpu.ts', what: 'CPU per request, Go and C SUTs (needs redis-server, mariadb; by name only)', onlyByName: true },
  // Reads the --json files of earlier overhead-cpu runs: by name only.
  { name: 'pool', file: 'overhead-pool.ts', what: 'paired per-round ratios of several overhead-cpu --json runs, pooled (by name only)', onlyByName: true },
];

function main(argv: string[]): number {
  const dash = argv.indexOf('--');
  const names = dash < 0 ? argv : argv.slice(0, dash);
  const passOn = dash < 0 ? [] : argv.slice(dash + 1);
  if (names.includes('--help') || names.includes('-h')) {
    console.log('usage: npm run bench [-- NAME… [-- ARGS…]]\n');
    for (const b of BENCHMARKS) console.log(`  ${b.name.padEnd(13)} bench/${b.file.padEnd(24)} ${b.what}`);
    return 0;
  }
  const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length > 0) {
    console.error(`unknown benchmark ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}`);
    return 2;
  }
  const chosen = names.length === 0 ? BENCHMARKS.filter((b) => b.onlyByName !== true) : BENCHMARKS.filter((b) => names.includes(b.name));
  let failed = 0;
  for (const b of chosen) {
    const file = join(HERE, b.file);
    if (!existsSync(file)) {
      console.log(`\n== ${b.name}: skipped (bench/${b.file} does not exist yet)`);
      continue;
    }
    const r = spawnSync(process.execPath, [...process.execArgv, file, ...passOn], { stdio: 'inherit' });
    if (r.status !== 0) {
      failed++;
      console.error(`== ${b.name}: FAILED (exit ${r.status ?? r.signal})`);
    }
  }
  return failed === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
