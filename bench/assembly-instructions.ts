/**
 * instructions: what the gateway's assembly costs per session in CPU instructions, a count this
 * VM cannot disturb. The same pass over the same agent traffic varied by ±20-30 % in CPU time
 * here (the host's neighbours; bench/RESULTS-overhead.md), so a change worth a few percent could
 * not be seen. Instructions counted by valgrind (cachegrind, no cache simulation) with Node run
 * `--single-threaded --predictable` (no concurrent compiler or collector threads; the collector's
 * work is on the counted thread; TurboFan still optimizes, as `--trace-opt` shows) repeat to 0.1 %.
 *
 * It runs bench/assembly-cost.ts, built, under valgrind twice per checkout and stage: one pass and
 * 1 + --passes passes (each run warms up with one more pass first). The difference is what the
 * passes cost, without start-up and compilation.
 *
 *   node --import tsx bench/assembly-instructions.ts --frames FILE [--stages encode] [--passes 2]
 *        [--checkout DIR,DIR...]
 *
 * Keep FILE small (valgrind runs Node ~50x slower): the first ~25 messages of a dump from
 * `overhead-cpu.ts --variants recording-sink --sink-dump FILE` take ~1 min a run. The store stage
 * is left out by default: its writes complete on libuv's threads, so its count varies by a few
 * percent. --checkout compares other checkouts of this repository (each built with its own
 * tsconfig.json), the first row being the base of the ratio column.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { builtKoalaMain } from './lib/built-koala.js';
import { finish, header, type Cell } from './lib/report.js';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const STAGES = ['decode', 'assemble', 'encode', 'store'];

interface Count {
  instructions: number;
  events: number;
  sessions: number;
}

/** One valgrind run of assembly-cost.js: instructions of the whole process, and what a pass holds. */
function countRun(script: string, frames: string, stage: string, repeat: number): Count {
  const r = spawnSync(
    'valgrind',
    [
      '--tool=cachegrind', '--cache-sim=no', '--smc-check=all-non-file', '--cachegrind-out-file=/dev/null',
      process.execPath, '--single-threaded', '--predictable', script, '--frames', frames, '--repeat', String(repeat), '--stages', stage,
    ],
    { encoding: 'utf8', timeout: 1_800_000, maxBuffer: 64 << 20 },
  );
  if (r.error) throw new Error(`valgrind could not run (apt-get install valgrind): ${r.error.message}`);
  const refs = /I\s+refs:\s+([\d,]+)/.exec(r.stderr);
  const pass = /(\d+) events, (\d+|-) sessions per pass/.exec(r.stdout);
  if (r.status !== 0 || !refs || !pass) throw new Error(`valgrind run of ${script} failed (status ${r.status}):\n${r.stdout}\n${r.stderr.slice(-2000)}`);
  return { instructions: Number(refs[1]!.replace(/,/g, '')), events: Number(pass[1]), sessions: Number(pass[2]) || 0 };
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      frames: { type: 'string' },
      stages: { type: 'string', default: 'encode' },
      passes: { type: 'string', default: '2' },
      checkout: { type: 'string', default: REPO },
    },
  });
  if (values.frames === undefined) throw new Error('--frames FILE is required (see the comment at the top of bench/assembly-instructions.ts)');
  const stages = (values.stages as string).split(',');
  for (const s of stages) if (!STAGES.includes(s)) throw new Error(`--stages: unknown stage ${s}`);
  const passes = Number(values.passes);
  if (!Number.isInteger(passes) || passes < 1) throw new Error('--passes must be a positive integer');
  const checkouts = (values.checkout as string).split(',');
  const h = header('instructions', `gateway assembly instructions per session (valgrind), ${values.frames}, ${passes} passes`);
  const measured: { checkout: string; stage: string; perPass: number; one: Count; more: Count }[] = [];
  for (const checkout of checkouts) {
    builtKoalaMain(checkout); // builds the checkout, its benchmarks with it
    const script = join(checkout, 'dist', 'bench', 'assembly-cost.js');
    for (const stage of stages) {
      const one = countRun(script, values.frames, stage, 1);
      const more = countRun(script, values.frames, stage, 1 + passes);
      measured.push({ checkout, stage, perPass: (more.instructions - one.instructions) / passes, one, more });
    }
  }
  // The same frames make the same sessions; older checkouts print the count for some stages only.
  const sessions = Math.max(0, ...measured.map((m) => m.one.sessions));
  const base = new Map<string, number>();
  const rows: Cell[][] = measured.map(({ checkout, stage, perPass, one }) => {
    const perSession = stage !== 'decode' && sessions > 0 ? perPass / sessions : undefined;
    if (!base.has(stage)) base.set(stage, perPass);
    return [checkout === REPO ? '(this checkout)' : checkout, stage, perPass, perPass / one.events, perSession, (perPass / (base.get(stage) as number)).toFixed(3)];
  });
  const json = measured.map((m) => ({ checkout: m.checkout, stage: m.stage, perPass: m.perPass, events: m.one.events, runs: [m.one.instructions, m.more.instructions] }));
  finish(h, ['checkout', 'stage', 'instr/pass', 'instr/event', 'instr/session', 'vs first'], rows, { passes, sessions, results: json }, [
    'stages are cumulative: decode, + the assembler, + encoding each line, + writing the store',
  ]);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
