/**
 * shim: what one intercepted call costs. A single-threaded ping loop (bench/c/shim-ping.c) runs
 * without the shim, with the shim and no gateway (the ring fills, then every event takes the
 * drop path), and with the shim and a live gateway (events are shipped over the unix socket and
 * assembled). Socket calls (send/recv, read/write on an AF_UNIX socketpair) are recorded;
 * non-socket calls (pipe, /dev/null) only pay the fd-table lookup.
 *
 *   node --import tsx bench/shim-cost.ts [--reps 3] [--scale 1]
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBenchGateway, type BenchGateway } from './lib/gateway.js';
import { buildProgram, parseKv, requireShim } from './lib/native.js';
import { run } from './lib/proc.js';
import { finish, header, median, type Cell } from './lib/report.js';

const MODES = [
  { mode: 'sendrecv', iters: 100_000, call: 'send/recv  (socketpair)', socket: true },
  { mode: 'readwrite', iters: 100_000, call: 'write/read (socketpair)', socket: true },
  { mode: 'pipe', iters: 150_000, call: 'write/read (pipe)', socket: false },
  { mode: 'devnull', iters: 400_000, call: 'write (/dev/null)', socket: false },
] as const;

type Cond = 'plain' | 'plain + idle thread' | 'shim, no gateway' | 'shim + gateway';
/** 'plain + idle thread': the shim always adds a (writer) thread, and a multi-threaded process pays
 * more in the kernel per fd call; this row separates that from the hooks' own cost. */
const CONDS: readonly Cond[] = ['plain', 'plain + idle thread', 'shim, no gateway', 'shim + gateway'];

interface Sample {
  wall: number;
  threadCpu: number;
  procCpu: number;
  shipped?: number;
  dropped?: number;
}

async function once(bin: string, mode: string, iters: number, cond: Cond, gw: BenchGateway): Promise<Sample> {
  const env: NodeJS.ProcessEnv = { ...process.env, KOALA_LOG_LEVEL: 'ERROR', KOALA_SUT_NAME: 'shim-bench' };
  delete env.LD_PRELOAD;
  if (cond.startsWith('shim')) {
    env.LD_PRELOAD = requireShim();
    env.KOALA_AGENT_SOCKET = cond === 'shim + gateway' ? gw.agentSocket : join(tmpdir(), `koala-bench-no-gateway-${process.pid}.sock`);
  }
  const before = gw.stats();
  const r = await run(bin, [mode, String(iters), ...(cond === 'plain + idle thread' ? ['idle-thread'] : [])], { env });
  if (r.code !== 0) throw new Error(`shim-ping ${mode} (${cond}) exited ${r.code}: ${r.stderr}`);
  const kv = parseKv(r.stdout);
  const s: Sample = { wall: kv.ns_per_call ?? NaN, threadCpu: kv.thread_cpu_ns_per_call ?? NaN, procCpu: kv.proc_cpu_ns_per_call ?? NaN };
  if (cond === 'shim + gateway') {
    const after = await gw.settle();
    s.shipped = after.events - before.events;
    s.dropped = after.droppedEvents - before.droppedEvents;
  }
  return s;
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { reps: { type: 'string', default: '3' }, scale: { type: 'string', default: '1' } } });
  const reps = Number(values.reps);
  const scale = Number(values.scale);
  const h = header('shim', 'ns per intercepted call, single-threaded ping loop, median of reps (interleaved)');
  const bin = buildProgram('shim-ping');
  requireShim();
  const gw = await startBenchGateway({ store: true });
  const samples = new Map<string, Sample[]>();
  try {
    for (let rep = 0; rep < reps; rep++) {
      for (const m of MODES) {
        for (const cond of CONDS) {
          const s = await once(bin, m.mode, Math.round(m.iters * scale), cond, gw);
          const k = `${m.mode}|${cond}`;
          samples.set(k, [...(samples.get(k) ?? []), s]);
        }
      }
    }
  } finally {
    await gw.close();
  }
  const rows: Cell[][] = [];
  const results: Record<string, unknown>[] = [];
  for (const m of MODES) {
    const base = samples.get(`${m.mode}|plain`) ?? [];
    const baseWall = median(base.map((s) => s.wall));
    const baseCpu = median(base.map((s) => s.threadCpu));
    const threadCpuBase = median((samples.get(`${m.mode}|plain + idle thread`) ?? []).map((s) => s.threadCpu));
    for (const cond of CONDS) {
      const ss = samples.get(`${m.mode}|${cond}`) ?? [];
      const wall = median(ss.map((s) => s.wall));
      const threadCpu = median(ss.map((s) => s.threadCpu));
      const procCpu = median(ss.map((s) => s.procCpu));
      const calls = Math.round(m.iters * scale) * (m.mode === 'devnull' ? 1 : m.mode === 'pipe' ? 2 : 4);
      const shipped = cond === 'shim + gateway' ? median(ss.map((s) => s.shipped ?? 0)) : undefined;
      const dropped = cond === 'shim + gateway' ? median(ss.map((s) => s.dropped ?? 0)) : undefined;
      const plain = cond === 'plain';
      rows.push([
        m.call, cond, wall, threadCpu, procCpu,
        plain ? '' : signed(wall - baseWall),
        plain ? '' : cond.startsWith('shim') ? `${signed(threadCpu - baseCpu)} / ${signed(threadCpu - threadCpuBase)}` : signed(threadCpu - baseCpu),
        m.socket && shipped !== undefined ? `${shipped}/${dropped}` : '',
      ]);
      results.push({ call: m.mode, condition: cond, calls, wallNsPerCall: wall, threadCpuNsPerCall: threadCpu, procCpuNsPerCall: procCpu,
        addedWallNs: plain ? 0 : wall - baseWall, addedThreadCpuNs: plain ? 0 : threadCpu - baseCpu,
        addedThreadCpuNsVsIdleThread: cond.startsWith('shim') ? threadCpu - threadCpuBase : undefined, shippedEvents: shipped, droppedEvents: dropped,
        samples: ss });
    }
  }
  finish(h, ['call', 'condition', 'wall ns/call', 'thread CPU ns/call', 'process CPU ns/call', 'added wall ns', 'added CPU ns (vs plain / vs +thread)', 'events shipped/dropped'], rows,
    { reps, scale, aimAddedNs: 500, results },
    [
      'added = median(shim) − median(plain) of the same call (CPU also vs "plain + idle thread"); thread CPU = CPU of the calling',
      'thread (getrusage RUSAGE_THREAD);',
      'process CPU includes the shim\'s writer thread. shipped/dropped: events the gateway received / the agent reported dropped (median run).',
      'no gateway: the first ~32 MiB of events fill the ring, every later one takes the drop path.',
    ]);
}

function signed(x: number): string {
  return Number.isNaN(x) ? '-' : `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
