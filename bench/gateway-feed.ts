/**
 * feed: what a recording `koala gateway` spends per session on real Go agent traffic, with
 * nothing else running. go-hooks/cmd/koala-bench-feed sends a dump of what a Go SUT's agent sent
 * (`overhead-cpu.ts --variants recording-sink --sink-dump FILE`) over one gRPC stream; the
 * gateway (built, as users run it and as overhead-cpu.ts starts it; --source: from source under
 * tsx) receives, assembles and stores it.
 * Its CPU comes from /proc, all threads and the receiving thread apart, until it has drained.
 *
 *   node --import tsx bench/gateway-feed.ts --frames FILE [--rounds 3] [--speed 0,1] [--merge 1]
 *        [--assembler thread,inline] [--checkout DIR] [--source] [--node-args 'FLAGS|FLAGS']
 *
 * --speed 1 keeps the recorded pace (the gateway's cost at the load the dump was recorded at), 0
 * sends as fast as the stream takes it (the most the gateway can take). --merge K sends every K
 * batches as one (what larger agent batches would do). Each gateway is warmed up with one feed of
 * the same dump first (not measured): a fresh process compiles as it goes, which a long-running
 * gateway does not. --checkout DIR runs the gateway of another checkout of this repository (built
 * with its tsconfig.json, or its src/cli/main.ts with --source), for a before/after on the same dump. --node-args gives the gateway's Node
 * flags, a row per `|`-separated set (an empty set: none), e.g. `'|--single-threaded-gc'`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { builtKoalaMain } from './lib/built-koala.js';
import { cpuMs, startGatewayProc } from './overhead-cpu.js';
import { run } from './lib/proc.js';
import { finish, header, median, type Cell } from './lib/report.js';

const GO_HOOKS = fileURLToPath(new URL('../go-hooks/', import.meta.url));
const HZ = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime + stime of one thread, in ms. */
function threadCpuMs(pid: number, tid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / HZ;
}

/** CPU ms of each of a process's threads, by tid. */
function cpuByThread(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(Number(tid), threadCpuMs(pid, Number(tid)));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/**
 * CPU ms over a span, in three parts. Node names every thread "node", so they are told apart by
 * what they do: the receiving thread is the process's first; the busiest other one is the
 * assembly thread (in record mode with the thread assembler); the rest are V8's collector and
 * compiler helpers and libuv's pool.
 */
function threadSplit(pid: number, a: Map<number, number>, b: Map<number, number>): Record<string, number> {
  const others = [...b].filter(([tid]) => tid !== pid).map(([tid, ms]) => ms - (a.get(tid) ?? 0)).sort((x, y) => y - x);
  return {
    receiving: (b.get(pid) ?? 0) - (a.get(pid) ?? 0),
    'busiest other (assembly)': others[0] ?? 0,
    'the rest (GC, compiler, libuv)': others.slice(1).reduce((x, y) => x + y, 0),
  };
}

function buildFeeder(dir: string): string {
  const bin = join(dir, 'koala-bench-feed');
  const r = spawnSync('go', ['build', '-o', bin, './cmd/koala-bench-feed'], { cwd: GO_HOOKS, encoding: 'utf8', env: { ...process.env, GOTOOLCHAIN: 'local' } });
  if (r.status !== 0) throw new Error(`go build koala-bench-feed: ${r.stderr}`);
  return bin;
}

interface Round {
  cpuMs: number;
  /** CPU ms over the measured feed by kind of thread (threadSplit). */
  byThread: Record<string, number>;
  wallMs: number;
  sessions: number;
  events: number;
}

async function round(
  feeder: string,
  frames: string,
  speed: number,
  merge: number,
  assembler: string,
  main: string | undefined,
  nodeArgs: string[],
): Promise<Round> {
  const gw = await startGatewayProc({ args: ['--assembler', assembler], main, nodeArgs });
  const feed = async (s: number) => {
    const fed = await run(feeder, ['-addr', gw.grpc, '-dump', frames, '-speed', String(s), '-merge', String(merge)], { timeoutMs: 600_000 });
    if (fed.code !== 0) throw new Error(`koala-bench-feed failed: ${fed.stderr}`);
  };
  try {
    await feed(0);
    await gw.drain(400, 600_000);
    const cpu0 = cpuMs(gw.pid);
    const threads0 = cpuByThread(gw.pid);
    const t0 = Date.now();
    await feed(speed);
    await gw.drain(400, 600_000);
    const wallMs = Date.now() - t0 - 400;
    const cpu = cpuMs(gw.pid) - cpu0;
    const byThread = threadSplit(gw.pid, threads0, cpuByThread(gw.pid));
    // The gateway counts both feeds; the measured one is half.
    const { sessions, events } = await gw.stop();
    return { cpuMs: cpu, byThread, wallMs, sessions: sessions / 2, events: events / 2 };
  } catch (err) {
    await gw.stop().catch(() => undefined);
    throw err;
  }
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      frames: { type: 'string' },
      rounds: { type: 'string', default: '3' },
      speed: { type: 'string', default: '0,1' },
      assembler: { type: 'string', default: 'thread,inline' },
      merge: { type: 'string', default: '1' },
      checkout: { type: 'string' },
      source: { type: 'boolean', default: false },
      'node-args': { type: 'string', default: '' },
    },
  });
  if (values.frames === undefined) throw new Error('--frames FILE is required (see the comment at the top of bench/gateway-feed.ts)');
  const frames = values.frames;
  const speeds = (values.speed as string).split(',').map(Number);
  const assemblers = (values.assembler as string).split(',');
  const rounds = Number(values.rounds);
  const merge = Number(values.merge);
  const flagSets = (values['node-args'] as string).split('|').map((f) => f.trim());
  const main = values.source
    ? join(values.checkout ?? fileURLToPath(new URL('../', import.meta.url)), 'src/cli/main.ts')
    : builtKoalaMain(values.checkout);
  const dir = mkdtempSync(join(tmpdir(), 'koala-bench-feed-'));
  try {
    const feeder = buildFeeder(dir);
    const h = header('feed', `koala gateway (record${values.checkout ? ` of ${values.checkout}` : ''}) fed ${frames} over gRPC, batches merged by ${merge}, ${rounds} rounds per row`);
    const results: Record<string, Round[]> = {};
    const key = (s: number, a: string, f: string) => `speed ${s}, ${a}${f ? ` ${f}` : ''}`;
    // Interleaved, so a drift of the machine's speed touches every row alike.
    for (let r = 0; r < rounds; r++) {
      for (const s of speeds) {
        for (const a of assemblers) {
          for (const f of flagSets) {
            (results[key(s, a, f)] ??= []).push(await round(feeder, frames, s, merge, a, main, f ? f.split(/\s+/) : []));
          }
        }
      }
    }
    const rows: Cell[][] = [];
    for (const s of speeds) {
      for (const [a, f] of assemblers.flatMap((x) => flagSets.map((y) => [x, y] as const))) {
        const rs = results[key(s, a, f)]!;
        const sessions = median(rs.map((x) => x.sessions));
        rows.push([
          s === 0 ? 'as fast as possible' : `recorded pace x${s}`,
          f ? `${a} ${f}` : a,
          sessions,
          median(rs.map((x) => (x.cpuMs * 1000) / x.sessions)),
          median(rs.map((x) => ((x.byThread.receiving ?? 0) * 1000) / x.sessions)),
          median(rs.map((x) => (x.cpuMs * 1000) / x.events)),
          median(rs.map((x) => (x.sessions / x.wallMs) * 1000)),
        ]);
      }
    }
    // Where each row's CPU went, by kind of thread (medians of the rounds, us per session).
    const split = Object.entries(results).map(([k, rs]) => {
      const names = [...new Set(rs.flatMap((x) => Object.keys(x.byThread)))];
      const parts = names
        .map((n) => [n, median(rs.map((x) => ((x.byThread[n] ?? 0) * 1000) / x.sessions))] as const)
        .filter(([, us]) => us >= 0.5)
        .sort((a, b) => b[1] - a[1]);
      return `${k}: ${parts.map(([n, us]) => `${n} ${us.toFixed(1)}`).join(', ')} us/session`;
    });
    finish(
      h,
      ['feed', 'assembler', 'sessions', 'gateway CPU us/session', 'of which receiving thread', 'us/event', 'sessions/s (wall, to drained)'],
      rows,
      { results },
      ['CPU: utime+stime of every gateway thread from /proc, from ready until drained; medians of the rounds', 'by thread:', ...split],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
