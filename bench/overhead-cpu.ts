/**
 * Recording overhead as CPU per request, with every party in its own process: the C load
 * generator (bench/c/loadgen.c), the C HTTP downstream (bench/c/downstream.c), Redis, MariaDB,
 * the SUT, and `koala gateway` (built, as users run it). On a
 * saturated box throughput mostly measures who wins the CPU, so the honest figure is the CPU each
 * process spends per request (utime+stime from /proc/<pid>/stat, before and after each run; the
 * gateway's is counted until it has drained what the run sent it).
 *
 *   node --import tsx bench/overhead-cpu.ts [--sut go|c|both] [--seconds 8] [--rounds 2]
 *        [--conns 16] [--pin none|0|1|any ...] [--variants plain,recording,hooked-no-gw[,recording-sink][,recording-spool][,recording-inline][,recording-idle][,recording-semi1][,recording-batch10][,recording-sink-batch10][,plain-hog][,plain-hog30][,plain-thrash]]
 *        [--same-sut] [--gw-prof DIR] [--sut-prof DIR] [--gw-nice N] [--keep-store DIR] [--sink-dump FILE] [--json FILE] [--grpc tcp|unix]
 *        [--perf DIR] [--sut-syscalls] [--gw-source]
 *
 * Go SUT (test/fixtures/go-sut) is driven on /fanout (HTTP + Redis + MariaDB per request), the
 * thread-per-connection C SUT (test/fixtures/c-sut) on /all (a fresh HTTP connection + Redis).
 * Variants: plain (stock build / no LD_PRELOAD), recording into the gateway, and hooked with no
 * gateway listening (hooks + agent, nothing exported). Opt-in for Go, recording-sink: recording
 * into go-hooks/cmd/koala-bench-sink, which takes the stream and decodes nothing, so the SUT's own
 * cost of recording shows apart from the gateway's (its CPU is in the gateway column). Opt-in,
 * recording-spool: into another gateway started with --assembler spool (it appends what agents send
 * and assembles nothing while recording); when the run ends, `koala assemble` turns its spool into
 * sessions, timed apart, and the sessions are counted against the requests. Opt-in,
 * recording-inline: into a second gateway started with --assembler inline (assembling on its
 * receiving thread at full priority, as before the assembly thread), for an A/B in one run. Opt-in,
 * recording-idle: into another gateway started under SCHED_IDLE (`chrt --idle 0`: it runs only on
 * CPU no other thread wants). Opt-in,
 * recording-semi1: into another gateway whose V8 young generation is kept small
 * (`--max-semi-space-size=1`, for every isolate of the process), to see whether the gateway slows
 * the SUT through the caches the cores share.
 * recording-batch10, recording-sink-batch10: as recording and recording-sink, with the Go agent
 * sending a batch every 10 ms (KOALA_BATCH_DELAY_MS=10) rather than every 100: smaller batches,
 * whose buffers may stay in the SUT core's cache. Opt-in, Go only.
 * plain-hog, plain-thrash: the plain SUT with bench/c/cache-thrash.c running where the gateway
 * would, under SCHED_IDLE through the measured window, over 64 KiB (busy cycles that stay in that
 * core's own cache) or 64 MiB (memory traffic through the L3 both cores share): what a neighbour
 * that takes only the other core's idle time costs the SUT, with no koala code anywhere.
 * plain-hog30: as plain-hog, busy 30 ms of every 100 (as the gateway is, woken by a batch every
 * 100 ms): whether that cost grows with the neighbour's share of the core, or comes with any.
 *
 * The gateway runs as users run it, built (`tsc`, once per run; bench/lib/built-koala.ts);
 * --gw-source runs it from source under tsx instead (~3 µs more per session, in V8's helpers).
 *
 * --gw-nice N starts the recording gateway under `nice -n N`: the receiving thread too, not only
 * the assembly thread (what `nice -n 19 koala gateway` does in a deployment).
 *
 * Every round starts a fresh SUT process per variant, warmed up before it is measured: two
 * processes of one binary can run up to 20 % apart here for their whole lives, so one process per
 * variant for all rounds can bias a variant. --same-sut keeps one process per variant instead.
 *
 * --sut-prof DIR has each Go SUT write a CPU profile, DIR/pin-<layout>-<variant>-<n>.pprof, from
 * start to stop (warm-up included): where recording costs the service itself (`go tool pprof -top`).
 *
 * --perf DIR samples every process and the kernel through each measured window
 * (`perf record -a -g`, software clock: this VM has no hardware counters), DIR/<variant>-<n>.data,
 * and reports per round and per variant the share of the SUT's samples whose stacks hold koala's
 * code or gRPC's (bench/lib/perf-split.ts). A share within one window does not move with the
 * machine's speed the way CPU per request does. The files answer more: `perf report -i FILE
 * --sort comm,dso`. Sampling costs every process a little; compare variants within one run.
 *
 * The summary gives each variant's per-round ratios to plain: median, a 95 % confidence interval
 * of the median (distribution-free, from 6 rounds), and the range.
 *
 * --sink-dump FILE keeps every message the sink receives (recording-sink), undecoded and with its
 * arrival time: bench/assembly-cost.ts replays such a file through the gateway's assembly.
 *
 * --grpc unix streams the Go agent to the gateway over the opt-in unix socket
 * (KOALA_AGENT_GRPC_ADDR=unix:///path) instead of loopback TCP (the default, tcp).
 *
 * --sut-syscalls counts the SUT's system calls and context switches through each measured
 * window (`perf stat -e raw_syscalls:sys_enter,sched:sched_switch -p PID`), per request: whether
 * a variant makes the SUT do more kernel round trips for the same work, e.g. fewer events ready per
 * wake-up when its dependencies answer later.
 *
 * Every run also counts the reschedule and function-call interrupts each core took per request
 * (/proc/interrupts): a wake-up of a task on a busy core needs one, in a VM normally an exit to
 * the host for the sender, where a core idling in haltpoll needs none (bench/lib/interrupts.ts).
 *
 * --pin N puts this process, the load generator and the downstreams on core 0, the SUT on core 1
 * and the gateway on core N (0, 1, or "any" = both); "none" pins nothing. Several values run the
 * whole matrix once per layout. Needs 2 cores.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildGoSut } from '../test/helpers/go-sut.js';
import { startMariaDb, type MariaDb } from '../test/helpers/mariadb.js';
import { startRedis, type Redis } from '../test/helpers/redis.js';
import { buildCSut, startSut, type Downstreams, type Sut } from '../test/helpers/sut.js';
import { freePort } from '../test/helpers/ports.js';
import { builtKoalaMain } from './lib/built-koala.js';
import { buildProgram, parseKv } from './lib/native.js';
import { run, sleep, startServer, type Server } from './lib/proc.js';
import { ipisBetween, readIpis } from './lib/interrupts.js';
import { splitSamples, type SampleSplit } from './lib/perf-split.js';
import { loadText, median, medianCi } from './lib/report.js';

export type SutKind = 'go' | 'c';
export type Variant =
  | 'plain' | 'recording' | 'hooked-no-gw' | 'recording-sink' | 'recording-spool' | 'recording-inline' | 'recording-idle' | 'recording-semi1'
  | 'recording-batch10' | 'recording-sink-batch10' | 'plain-hog' | 'plain-hog30' | 'plain-thrash';
/** The default variants. */
export const VARIANTS: readonly Variant[] = ['plain', 'recording', 'hooked-no-gw'];
const ALL_VARIANTS: readonly Variant[] = [
  'plain', 'recording', 'recording-spool', 'recording-inline', 'recording-idle', 'recording-semi1', 'recording-sink', 'hooked-no-gw', 'recording-batch10', 'recording-sink-batch10', 'plain-hog', 'plain-hog30', 'plain-thrash',
];
/**
 * Variants that run the plain SUT with a neighbour where the gateway would run, at idle priority
 * through the measured window (bench/c/cache-thrash.c, its argument the span it streams over):
 * whether busy cycles alone (a span that stays in the core's own cache) or memory traffic (a span
 * larger than the shared L3) on the other core cost the SUT.
 */
const NEIGHBOURS: Partial<Record<Variant, string[]>> = { 'plain-hog': ['64k'], 'plain-hog30': ['64k', '30'], 'plain-thrash': ['64'] };
/** The Go agent's batch delay (KOALA_BATCH_DELAY_MS) for the -batch10 variants: their SUT sends a batch every 10 ms, not 100. */
const BATCH10: Partial<Record<Variant, Variant>> = { 'recording-batch10': 'recording', 'recording-sink-batch10': 'recording-sink' };
/** What a variant records into: a -batch10 variant shares its base variant's receiver. */
const receiverOf = (v: Variant): Variant => BATCH10[v] ?? v;
/** Variants that export to a receiver whose CPU is counted (a gateway, or the sink). */
const exporting = (v: Variant): boolean => receiverOf(v) === 'recording' || receiverOf(v) === 'recording-sink' || v in EXTRA_GATEWAYS;
/** Variants recording into a gateway of their own, started alongside the default one. */
const EXTRA_GATEWAYS: Partial<Record<Variant, { args?: string[]; idle?: boolean; nodeArgs?: string[]; spool?: boolean }>> = {
  'recording-spool': { args: ['--assembler', 'spool'], spool: true },
  'recording-inline': { args: ['--assembler', 'inline'] },
  'recording-idle': { idle: true },
  'recording-semi1': { nodeArgs: ['--max-semi-space-size=1'] },
};
export type Pin = 'none' | '0' | '1' | 'any';
export type GrpcTransport = 'tcp' | 'unix';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
const HZ = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime + stime of all threads of a process, in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5); f[0] is field 3.
  return ((Number(f[11]) + Number(f[12])) * 1000) / HZ;
}

/** Bytes the process has read (sockets included), from /proc/<pid>/io. */
export function readBytes(pid: number): number {
  const m = /^rchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'latin1'));
  return m ? Number(m[1]) : NaN;
}

/** Per core: [busy, total] jiffies since boot (/proc/stat; idle and iowait are not busy). */
function coreTimes(): [number, number][] {
  const out: [number, number][] = [];
  for (const line of readFileSync('/proc/stat', 'latin1').split('\n')) {
    if (!/^cpu\d+ /.test(line)) continue;
    const f = line.split(/\s+/).slice(1, 9).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    out.push([total - (f[3] ?? 0) - (f[4] ?? 0), total]);
  }
  return out;
}

/** Busy % of each core between two coreTimes() readings. */
function coreBusy(a: [number, number][], b: [number, number][]): number[] {
  return b.map(([busy, total], i) => {
    const [busy0, total0] = a[i] ?? [0, 0];
    return total > total0 ? (100 * (busy - busy0)) / (total - total0) : NaN;
  });
}

/** Bytes read plus bytes written: unchanged once the gateway has received and stored everything. */
function ioBytes(pid: number): number {
  const io = readFileSync(`/proc/${pid}/io`, 'latin1');
  return Number(/^rchar: (\d+)$/m.exec(io)?.[1] ?? NaN) + Number(/^wchar: (\d+)$/m.exec(io)?.[1] ?? NaN);
}

/** Pids of this process's children (all threads' children), with their command names. */
function children(): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  for (const tid of readdirSync(`/proc/${process.pid}/task`)) {
    const list = readFileSync(`/proc/${process.pid}/task/${tid}/children`, 'latin1').trim();
    for (const p of list ? list.split(' ') : []) {
      const pid = Number(p);
      out.push({ pid, comm: readFileSync(`/proc/${pid}/comm`, 'latin1').trim() });
    }
  }
  return out;
}

function pinPid(pid: number, cpus: string): void {
  const r = spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`taskset ${cpus} ${pid}: ${r.stderr}`);
}

/** [cmd, ...args] prefixed with taskset when a core is asked for. */
function onCpu(cpus: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return cpus === undefined ? [cmd, args] : ['taskset', ['-c', cpus, cmd, ...args]];
}

export interface GatewayProc {
  server: Server;
  pid: number;
  grpc: string;
  agentSocket: string;
  storeDir: string;
  logFile: string;
  /**
   * Waits until the gateway has read and written nothing new for quietMs: it has drained its
   * agents and its assembly thread has stored what they sent.
   */
  drain(quietMs?: number, maxMs?: number): Promise<void>;
  /**
   * Stops it (SIGTERM: sessions flushed) and returns the events it counted, from its log. A
   * spooling gateway's spool is assembled then (`koala assemble`, timed): its events and sessions
   * are the assembler's, storeBytes the spool's.
   */
  stop(): Promise<GatewayTotals>;
}

export interface GatewayTotals {
  events: number;
  sessions: number;
  storeBytes: number;
  /** Spooling gateways: how long `koala assemble` took, after the gateway stopped. */
  assembleMs?: number;
}

export async function startGatewayProc(
  opts: { cpus?: string; profDir?: string; keepStore?: string; grpc?: GrpcTransport; args?: string[]; nice?: number; idle?: boolean; main?: string; nodeArgs?: string[]; spool?: boolean } = {},
): Promise<GatewayProc> {
  const main = opts.main ?? builtKoalaMain();
  const dir = mkdtempSync(join(tmpdir(), 'koala-bench-gwp-'));
  const storeDir = join(dir, 'store');
  const logFile = join(dir, 'gateway.log');
  const nodeArgs = [
    ...(opts.profDir ? ['--cpu-prof', '--cpu-prof-dir', opts.profDir] : []),
    ...(opts.nodeArgs ?? []),
    ...koalaArgs(main),
    'gateway', '--mode', 'record', '--store', storeDir, '--agent-socket', join(dir, 'agent.sock'),
    '--grpc-addr', opts.grpc === 'unix' ? `unix://${join(dir, 'agent-grpc.sock')}` : '127.0.0.1:0',
    ...(opts.args ?? []),
  ];
  const [cmd, args] = opts.idle
    ? onCpu(opts.cpus, 'chrt', ['--idle', '0', process.execPath, ...nodeArgs])
    : opts.nice === undefined
      ? onCpu(opts.cpus, process.execPath, nodeArgs)
      : onCpu(opts.cpus, 'nice', ['-n', String(opts.nice), process.execPath, ...nodeArgs]);
  const server = await startServer(cmd, args, /^koala gateway ready .* agent-socket=(\S+) grpc=(\S+)$/, {
    env: { ...process.env, KOALA_LOG_LEVEL: 'INFO', KOALA_LOG_FILE: logFile },
  });
  const pid = server.pid;
  return {
    server,
    pid,
    grpc: server.ready[2] as string,
    agentSocket: server.ready[1] as string,
    storeDir,
    logFile,
    async drain(quietMs = 400, maxMs = 60_000) {
      const until = Date.now() + maxMs;
      // An idle gateway still moves a few bytes a second (the assembly thread's wake-ups go
      // through an eventfd), so "quiet" is under 1 KiB of I/O and under 5 % of a core since the
      // window began: an assembly thread working through a backlog may write little for a while.
      let last = ioBytes(pid);
      let lastCpu = cpuMs(pid);
      let since = Date.now();
      while (Date.now() < until) {
        await sleep(50);
        const now = ioBytes(pid);
        const cpu = cpuMs(pid);
        if (now - last > 1024 || cpu - lastCpu > 0.05 * (Date.now() - since) + 10) {
          last = now;
          lastCpu = cpu;
          since = Date.now();
        } else if (Date.now() - since >= quietMs) return;
      }
    },
    async stop() {
      await server.stop(30_000);
      const log = readFileSync(logFile, 'utf8');
      const m = /gateway closed.*?sessions=(\d+).*?events=(\d+)/.exec(log) ?? /gateway closed.*?events=(\d+).*?sessions=(\d+)/.exec(log);
      let storeBytes = 0;
      for (const f of readdirSync(storeDir, { recursive: true }) as string[]) {
        const st = statSync(join(storeDir, f));
        if (st.isFile()) storeBytes += st.size;
      }
      const assembled = opts.spool ? assembleSpool(main, storeDir) : undefined;
      if (opts.keepStore) cpSync(storeDir, opts.keepStore, { recursive: true });
      rmSync(dir, { recursive: true, force: true });
      if (assembled) return { ...assembled, storeBytes };
      const sessions = m ? Number(/sessions=(\d+)/.exec(m[0])?.[1]) : NaN;
      const events = m ? Number(/events=(\d+)/.exec(m[0])?.[1]) : NaN;
      return { events, sessions, storeBytes };
    },
  };
}

/** A .ts main runs under tsx, as from source; else the built command, as users run it. */
const koalaArgs = (main: string): string[] => [...(main.endsWith('.ts') ? ['--import', TSX] : []), main];

/** `koala assemble DIR`: the sessions and events it reports (summed over its spools) and how long it took. */
function assembleSpool(main: string, dir: string): { events: number; sessions: number; assembleMs: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [...koalaArgs(main), 'assemble', dir], { encoding: 'utf8' });
  const assembleMs = Date.now() - t0;
  if (r.status !== 0) throw new Error(`koala assemble ${dir} exited ${r.status}: ${r.stderr}`);
  let events = 0;
  let sessions = 0;
  for (const m of r.stdout.matchAll(/: (\d+) sessions, (\d+) events/g)) {
    sessions += Number(m[1]);
    events += Number(m[2]);
  }
  if (r.stderr !== '') console.error(`  koala assemble: ${r.stderr.trim()}`);
  return { events, sessions, assembleMs };
}

const GO_HOOKS = fileURLToPath(new URL('../go-hooks/', import.meta.url));

/** go-hooks/cmd/koala-bench-sink, built into dir and started on cpus. */
async function startSink(dir: string, cpus: string | undefined, dump: string | undefined): Promise<Server> {
  const bin = join(dir, 'koala-bench-sink');
  const r = spawnSync('go', ['build', '-o', bin, './cmd/koala-bench-sink'], {
    cwd: GO_HOOKS,
    encoding: 'utf8',
    env: { ...process.env, GOTOOLCHAIN: 'local' },
  });
  if (r.status !== 0) throw new Error(`go build koala-bench-sink: ${r.stderr}`);
  const [cmd, args] = onCpu(cpus, bin, dump === undefined ? [] : ['-dump', dump]);
  return startServer(cmd, args, /^listening (\S+)$/);
}

interface Deps {
  downstreams: Downstreams;
  stop(): Promise<void>;
}

async function startDeps(kind: SutKind): Promise<Deps> {
  const ds = buildProgram('downstream');
  const http = await startServer(ds, ['0'], /^listening (\d+)$/);
  const [redis, mysql] = await Promise.all([startRedis(), kind === 'go' ? startMariaDb() : Promise.resolve(undefined)]) as [Redis, MariaDb | undefined];
  const downstreams: Downstreams = { http: Number(http.ready[1]), redis: redis.port };
  if (mysql) downstreams.mysql = { port: mysql.port, user: mysql.user, password: mysql.password, database: mysql.database };
  return {
    downstreams,
    async stop() {
      await Promise.allSettled([http.stop(), redis.stop(), mysql?.stop()]);
    },
  };
}

export interface Run {
  sut: SutKind;
  variant: Variant;
  pin: Pin;
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  sutCpuMs: number;
  gwCpuMs: number;
  gwReadBytes: number;
  drainMs: number;
  load: string;
  /** Busy % of each core while the load ran: shows a core left no idle time. */
  coreBusy: number[];
  /** With --perf: the SUT's samples over the measured window, and those in koala's and gRPC's code. */
  perf?: SampleSplit;
  /** With --sut-syscalls: the SUT's system calls and context switches over the measured window. */
  kernel?: { syscalls: number; switches: number };
  /** Reschedule and function-call interrupts each core took over the measured window (bench/lib/interrupts.ts). */
  ipis?: number[];
}

/** bench/c/cache-thrash.c with `neighbourArgs` under SCHED_IDLE on `cpus`, until stop(). */
function startNeighbour(neighbourArgs: string[], cpus: string | undefined): { stop(): Promise<void> } {
  const bin = buildProgram('cache-thrash');
  const [cmd, args] = onCpu(cpus, 'chrt', ['--idle', '0', bin, ...neighbourArgs]);
  const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  return {
    stop: async () => {
      p.kill('SIGKILL');
      await exited;
    },
  };
}

/** `perf record` of the whole system until stop(), which waits for perf to write its file. */
async function startPerf(file: string): Promise<{ stop(): Promise<void> }> {
  const p = spawn('perf', ['record', '-a', '-g', '-F', '499', '-e', 'cpu-clock', '-q', '-o', file], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve, reject) => {
    p.once('error', reject);
    p.once('exit', () => resolve());
  });
  // perf says nothing when it starts sampling; it has by then.
  await Promise.race([sleep(300), exited]);
  if (p.exitCode !== null) throw new Error(`perf record exited (${p.exitCode}): is perf installed and allowed here?`);
  return {
    stop: async () => {
      p.kill('SIGINT');
      await exited;
    },
  };
}

/** `perf stat` of one process's system calls and context switches until stop(). */
async function startSyscallCount(pid: number, file: string): Promise<{ stop(): Promise<{ syscalls: number; switches: number }> }> {
  const p = spawn('perf', ['stat', '-x', ',', '-o', file, '-e', 'raw_syscalls:sys_enter,sched:sched_switch', '-p', String(pid)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve, reject) => {
    p.once('error', reject);
    p.once('exit', () => resolve());
  });
  await Promise.race([sleep(200), exited]);
  if (p.exitCode !== null) throw new Error(`perf stat exited (${p.exitCode}): is perf installed and are tracepoints readable?`);
  return {
    stop: async () => {
      p.kill('SIGINT');
      await exited;
      // CSV lines: count,unit,event,...
      const count = (event: string): number => {
        const line = readFileSync(file, 'utf8').split('\n').find((l) => l.split(',')[2] === event);
        return line === undefined ? NaN : Number(line.split(',')[0]);
      };
      return { syscalls: count('raw_syscalls:sys_enter'), switches: count('sched:sched_switch') };
    },
  };
}

async function loadgen(port: number, conns: number, ms: number, path: string, cpus: string | undefined): Promise<Record<string, number>> {
  const [cmd, args] = onCpu(cpus, buildProgram('loadgen'), [String(port), String(conns), '0', String(ms), path]);
  const r = await run(cmd, args, { timeoutMs: ms + 60_000 });
  if (r.code !== 0) throw new Error(`loadgen exited ${r.code}: ${r.stderr}`);
  return parseKv(r.stdout);
}

export interface MatrixOptions {
  sut: SutKind;
  pin: Pin;
  seconds: number;
  rounds: number;
  conns: number;
  warmSeconds: number;
  variants?: readonly Variant[];
  gwProfDir?: string;
  /** Each Go SUT writes a CPU profile here. */
  sutProfDir?: string;
  /** A fresh SUT process for every variant in every round (else one per variant for all rounds). */
  freshSut?: boolean;
  /** Start the recording gateway under `nice -n N` (the whole process, receiving thread included). */
  gwNice?: number;
  /** How the Go agent streams to the gateway (default tcp). */
  grpc?: GrpcTransport;
  /** Copy the gateway's store here before it is removed. */
  keepStore?: string;
  /** The sink keeps every message it receives here (for bench/assembly-cost.ts). */
  sinkDump?: string;
  /** `perf record -a -g` of each measured window goes here. */
  perfDir?: string;
  /** Count the SUT's system calls and context switches in each measured window. */
  sutSyscalls?: boolean;
  /** Run the gateways from source under tsx instead of built (bench/lib/built-koala.ts). */
  gwSource?: boolean;
}

export interface MatrixResult {
  runs: Run[];
  /** Gateway totals over every run of the recording variant (warm-ups included). */
  gateway: GatewayTotals & { requests: number };
  /** The same for recording-spool, once its spool is assembled. */
  spool?: GatewayTotals & { requests: number };
}

/** Runs one SUT kind's variants, interleaved over rounds, under one pinning layout. */
export async function runMatrix(o: MatrixOptions): Promise<MatrixResult> {
  const variants = o.variants ?? VARIANTS;
  const pinned = o.pin !== 'none';
  const gwCpus = o.pin === 'none' ? undefined : o.pin === 'any' ? '0,1' : o.pin;
  const sutCpus = pinned ? '1' : undefined;
  const toolCpus = pinned ? '0' : undefined;
  if (pinned) pinPid(process.pid, '0');
  const path = o.sut === 'go' ? '/fanout' : '/all';
  const deps = await startDeps(o.sut);
  if (pinned) for (const c of children()) if (/redis|mariadb|mysqld/.test(c.comm)) pinPid(c.pid, '0');
  const main = o.gwSource ? MAIN : undefined;
  const gw = await startGatewayProc({ cpus: gwCpus, profDir: o.gwProfDir, keepStore: o.keepStore, grpc: o.grpc, nice: o.gwNice, main });
  const sinking = variants.some((v) => receiverOf(v) === 'recording-sink');
  if ((sinking || variants.some((v) => v in BATCH10)) && o.sut !== 'go') throw new Error('recording-sink and the -batch10 variants are for the Go SUT only');
  const sinkDir = sinking ? mkdtempSync(join(tmpdir(), 'koala-bench-sink-')) : undefined;
  const sink = sinkDir ? await startSink(sinkDir, gwCpus, o.sinkDump) : undefined;
  const extra = new Map<Variant, GatewayProc>();
  for (const v of variants) {
    const how = EXTRA_GATEWAYS[v];
    if (how) extra.set(v, await startGatewayProc({ cpus: gwCpus, grpc: o.grpc, main, ...how }));
  }
  /** The gateway variant v records into (the default one for `recording`). */
  const gwOf = (v: Variant): GatewayProc => extra.get(v) ?? gw;
  /** The process that receives what variant v exports: its CPU is counted per run. */
  const receiverPid = (v: Variant): number => (receiverOf(v) === 'recording-sink' ? (sink as Server).pid : gwOf(v).pid);
  const drain = async (v: Variant) => gwOf(v).drain();
  const suts = new Map<Variant, Sut>();
  let cBuild: { bin: string; cleanup(): void } | undefined;
  let recordingRequests = 0;
  let spoolRequests = 0;
  let spoolTotals: GatewayTotals | undefined;
  let gwTotals = { events: NaN, sessions: NaN, storeBytes: NaN };
  const runs: Run[] = [];
  try {
    let bin: string;
    let hookedBin: string;
    if (o.sut === 'go') {
      [bin, hookedBin] = await Promise.all([buildGoSut('plain'), buildGoSut('hooked')]);
    } else {
      cBuild = buildCSut('thread-per-conn');
      bin = hookedBin = cBuild.bin;
    }
    let started = 0;
    /** A fresh SUT process for variant v, warmed up (pools filled, code hot, the agent connected). */
    const startVariant = async (v: Variant): Promise<Sut> => {
      const exe = v === 'plain' || v in NEIGHBOURS ? bin : hookedBin;
      const [cmd, args] = onCpu(sutCpus, exe, o.sut === 'c' ? ['0'] : []);
      const noGw = `127.0.0.1:${await freePort()}`;
      const env: Record<string, string> = { KOALA_LOG_LEVEL: 'WARN' };
      if (o.sut === 'go') {
        env.KOALA_AGENT_GRPC_ADDR =
          receiverOf(v) === 'recording-sink' ? (sink?.ready[1] as string) : receiverOf(v) === 'recording' || extra.has(v) ? gwOf(v).grpc : noGw;
        if (v in BATCH10) env.KOALA_BATCH_DELAY_MS = '10';
        if (o.sutProfDir !== undefined) env.KOALA_TEST_CPUPROFILE = join(o.sutProfDir, `pin-${o.pin}-${v}-${++started}.pprof`);
      }
      const sut = await startSut(cmd, args, {
        name: `${o.sut}-sut-${v}`,
        shim: o.sut === 'c' && v !== 'plain',
        agentSocket: o.sut === 'c' && (v === 'recording' || extra.has(v)) ? gwOf(v).agentSocket : undefined,
        downstreams: deps.downstreams,
        env,
      });
      suts.set(v, sut);
      const w = await loadgen(sut.port, o.conns, o.warmSeconds * 1000, path, toolCpus);
      // Counted for events per request.
      if (receiverOf(v) === 'recording') recordingRequests += w.requests ?? 0;
      if (v === 'recording-spool') spoolRequests += w.requests ?? 0;
      await drain(v);
      return sut;
    };
    for (let r = 0; r < o.rounds; r++) {
      const order = variants.map((_, i) => variants[(i + r) % variants.length] as Variant);
      for (const v of order) {
        // A process per round (see the top of this file: processes of one binary differ).
        const sut = o.freshSut || r === 0 ? await startVariant(v) : (suts.get(v) as Sut);
        const load = loadText();
        const s0 = cpuMs(sut.pid);
        const g0 = cpuMs(receiverPid(v));
        const b0 = readBytes(receiverPid(v));
        const c0 = coreTimes();
        const i0 = readIpis();
        const perfFile = o.perfDir === undefined ? undefined : join(o.perfDir, `${v}-${runs.length + 1}.data`);
        const perf = perfFile === undefined ? undefined : await startPerf(perfFile);
        const neighbour = NEIGHBOURS[v] === undefined ? undefined : startNeighbour(NEIGHBOURS[v], gwCpus);
        const kernelCount = o.sutSyscalls ? await startSyscallCount(sut.pid, join(tmpdir(), `koala-bench-stat-${process.pid}.csv`)) : undefined;
        const kv = await loadgen(sut.port, o.conns, o.seconds * 1000, path, toolCpus);
        const cores = coreBusy(c0, coreTimes());
        const ipis = ipisBetween(i0, readIpis());
        const s1 = cpuMs(sut.pid);
        const kernel = await kernelCount?.stop();
        await neighbour?.stop();
        await perf?.stop();
        const t1 = Date.now();
        await drain(v);
        const drainMs = Math.max(0, Date.now() - t1 - 400);
        const g1 = cpuMs(receiverPid(v));
        const b1 = readBytes(receiverPid(v));
        const requests = kv.requests ?? 0;
        if (receiverOf(v) === 'recording') recordingRequests += requests;
        if (v === 'recording-spool') spoolRequests += requests;
        runs.push({
          sut: o.sut,
          variant: v,
          pin: o.pin,
          requests,
          errors: kv.errors ?? 0,
          seconds: kv.seconds ?? NaN,
          rps: kv.rps ?? NaN,
          p50Ms: (kv.p50_us ?? NaN) / 1000,
          p99Ms: (kv.p99_us ?? NaN) / 1000,
          sutCpuMs: s1 - s0,
          gwCpuMs: g1 - g0,
          gwReadBytes: b1 - b0,
          drainMs,
          load,
          coreBusy: cores,
          perf: perfFile === undefined ? undefined : splitSamples(perfFile, sut.pid),
          kernel,
          ipis,
        });
        if (o.freshSut) {
          await sut.stop();
          suts.delete(v);
        }
        const last = runs[runs.length - 1] as Run;
        console.error(
          `  ${o.sut} ${v.padEnd(12)} pin=${o.pin} ${last.rps.toFixed(0)} req/s sut ${((last.sutCpuMs * 1000) / requests).toFixed(0)} us/req ` +
            `gw ${((last.gwCpuMs * 1000) / requests).toFixed(0)} us/req drain ${drainMs} ms cores busy ${fmtCores(cores)} % ipis ${ipis.map((n) => (n / requests).toFixed(2)).join('/')}/req load ${load}` +
            (kernel ? ` syscalls ${(kernel.syscalls / requests).toFixed(1)}/req switches ${(kernel.switches / requests).toFixed(2)}/req` : '') +
            (last.perf ? ` perf: SUT ${last.perf.samples} samples, koala ${pct(last.perf.koala, last.perf.samples)} %, gRPC ${pct(last.perf.grpc, last.perf.samples)} %` : ''),
        );
      }
    }
  } finally {
    for (const s of suts.values()) await s.stop();
    await sink?.stop();
    for (const [v, g] of extra) {
      const totals = await g.stop().catch((err: unknown) => console.error(`  stopping the ${v} gateway: ${String(err)}`));
      if (v === 'recording-spool' && totals) spoolTotals = totals;
    }
    if (sinkDir) rmSync(sinkDir, { recursive: true, force: true });
    gwTotals = await gw.stop().catch(() => gwTotals);
    await deps.stop();
    cBuild?.cleanup();
  }
  return { runs, gateway: { ...gwTotals, requests: recordingRequests }, spool: spoolTotals && { ...spoolTotals, requests: spoolRequests } };
}

export interface Summary {
  variant: Variant;
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  sutUsPerReq: number;
  gwUsPerReq: number;
  gwBytesPerReq: number;
  /** Median time the receiver took after the load stopped to read and store what it was sent. */
  drainMs: number;
  load: string;
  /** Median over the runs of each core's busy %, "c0/c1". */
  coreBusy: string;
}

const pct = (part: number, whole: number): string => ((100 * part) / whole).toFixed(1);

const fmtCores = (busy: number[]): string => busy.map((b) => b.toFixed(0)).join('/');

export function summarize(runs: Run[], v: Variant): Summary {
  const mine = runs.filter((r) => r.variant === v);
  const req = mine.reduce((s, r) => s + r.requests, 0);
  return {
    variant: v,
    requests: req,
    rps: req / mine.reduce((s, r) => s + r.seconds, 0),
    // Percentiles: the median over runs of each run's percentile.
    p50Ms: median(mine.map((r) => r.p50Ms)),
    p99Ms: median(mine.map((r) => r.p99Ms)),
    errors: mine.reduce((s, r) => s + r.errors, 0),
    sutUsPerReq: (mine.reduce((s, r) => s + r.sutCpuMs, 0) * 1000) / req,
    gwUsPerReq: (mine.reduce((s, r) => s + r.gwCpuMs, 0) * 1000) / req,
    gwBytesPerReq: mine.reduce((s, r) => s + r.gwReadBytes, 0) / req,
    drainMs: median(mine.map((r) => r.drainMs)),
    load: mine.map((r) => r.load.split(' ')[0]).join('/'),
    coreBusy: fmtCores((mine[0]?.coreBusy ?? []).map((_, i) => median(mine.map((r) => r.coreBusy[i] ?? NaN)))),
  };
}

/** Each round's ratio of v to plain (the k-th run of each, which ran next to each other). */
export function paired(runs: Run[], v: Variant): { rps: number[]; sut: number[] } {
  const plain = runs.filter((r) => r.variant === 'plain');
  const mine = runs.filter((r) => r.variant === v);
  const out = { rps: [] as number[], sut: [] as number[] };
  for (let k = 0; k < Math.min(plain.length, mine.length); k++) {
    const p = plain[k] as Run;
    const m = mine[k] as Run;
    out.rps.push(m.rps / p.rps);
    out.sut.push(m.sutCpuMs / m.requests / (p.sutCpuMs / p.requests));
  }
  return out;
}

/** Median, its 95 % confidence interval when there are rounds enough (6 or more), and the range. */
function fmtRange(xs: number[]): string {
  const ci = medianCi(xs);
  return (
    `${median(xs).toFixed(2)} (${ci ? `95 % CI ${ci[0].toFixed(2)}–${ci[1].toFixed(2)}, ` : ''}` +
    `range ${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`
  );
}

export function table(res: MatrixResult, title: string): string {
  const p = summarize(res.runs, 'plain');
  const lines = [
    title,
    '',
    '| variant | req/s | vs plain | p50 ms | p99 ms | errors | SUT CPU us/req | gateway (or sink) CPU us/req | total CPU us/req | gw bytes read/req | drain after run ms | cores busy % | load (1 min) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|',
  ];
  const variants = ALL_VARIANTS.filter((v) => res.runs.some((r) => r.variant === v));
  for (const v of variants) {
    const s = summarize(res.runs, v);
    const gwUs = exporting(v) ? s.gwUsPerReq : 0;
    lines.push(
      `| ${v} | ${s.rps.toFixed(0)} | ${(s.rps / p.rps).toFixed(3)} | ${s.p50Ms.toFixed(2)} | ${s.p99Ms.toFixed(2)} | ${s.errors} | ` +
        `${s.sutUsPerReq.toFixed(0)} | ${exporting(v) ? gwUs.toFixed(0) : '-'} | ${(s.sutUsPerReq + gwUs).toFixed(0)} | ` +
        `${exporting(v) ? s.gwBytesPerReq.toFixed(0) : '-'} | ${exporting(v) ? s.drainMs.toFixed(0) : '-'} | ${s.coreBusy} | ${s.load} |`,
    );
  }
  const rounds = res.runs.filter((r) => r.variant === 'plain').length;
  if (rounds > 1) {
    lines.push('');
    for (const v of variants.filter((x) => x !== 'plain')) {
      const r = paired(res.runs, v);
      lines.push(
        `${v} vs plain, round by round (${rounds} rounds; this box's speed drifts between runs, so adjacent runs compare best): ` +
          `req/s ratio median ${fmtRange(r.rps)}, SUT CPU/req ratio median ${fmtRange(r.sut)}`,
      );
    }
  }
  const sampled = variants.filter((v) => res.runs.some((r) => r.variant === v && r.perf));
  if (sampled.length > 0) {
    lines.push('', "perf, the SUT's samples in the measured windows (koala = go-hooks' packages and the net/runtime hooks; gRPC = the agent's stream):");
    for (const v of sampled) {
      const mine = res.runs.filter((r) => r.variant === v && r.perf).map((r) => r.perf as SampleSplit);
      const koala = mine.map((m) => (100 * m.koala) / m.samples);
      const grpc = mine.map((m) => (100 * m.grpc) / m.samples);
      lines.push(`  ${v}: koala ${median(koala).toFixed(1)} %, gRPC ${median(grpc).toFixed(1)} % (medians of ${mine.length} rounds)`);
    }
  }
  const counted = variants.filter((v) => res.runs.some((r) => r.variant === v && r.kernel));
  if (counted.length > 0) {
    lines.push('', "The SUT's system calls and context switches per request in the measured windows (medians of the rounds):");
    for (const v of counted) {
      const mine = res.runs.filter((r) => r.variant === v && r.kernel && r.requests > 0);
      const per = (f: (k: { syscalls: number; switches: number }) => number): number =>
        median(mine.map((r) => f(r.kernel as { syscalls: number; switches: number }) / r.requests));
      lines.push(`  ${v}: ${per((k) => k.syscalls).toFixed(1)} system calls, ${per((k) => k.switches).toFixed(2)} context switches`);
    }
  }
  const withIpis = variants.filter((v) => res.runs.some((r) => r.variant === v && r.ipis !== undefined && r.requests > 0));
  if (withIpis.length > 0) {
    lines.push('', 'Reschedule and function-call interrupts each core took per request in the measured windows (medians of the rounds):');
    for (const v of withIpis) {
      const mine = res.runs.filter((r) => r.variant === v && r.ipis !== undefined && r.requests > 0);
      const cpus = (mine[0]?.ipis ?? []).map((_, i) => median(mine.map((r) => (r.ipis?.[i] ?? NaN) / r.requests)).toFixed(2));
      lines.push(`  ${v}: ${cpus.map((c, i) => `core ${i} ${c}`).join(', ')}`);
    }
  }
  const g = res.gateway;
  lines.push('');
  // Only when the recording variant ran: the default gateway starts either way.
  if (g.requests > 0) {
    lines.push(
      `gateway: ${g.events} events, ${g.sessions} sessions, ${g.storeBytes} bytes stored for ${g.requests} recorded requests ` +
        `(${(g.events / g.requests).toFixed(1)} events/req, ${(g.storeBytes / g.requests).toFixed(0)} stored bytes/req)`,
    );
  }
  const sp = res.spool;
  if (sp !== undefined) {
    lines.push(
      `recording-spool: ${sp.storeBytes} bytes spooled; koala assemble made ${sp.sessions} sessions from ${sp.events} events for ${sp.requests} recorded requests ` +
        `in ${((sp.assembleMs ?? NaN) / 1000).toFixed(1)} s after the run (${(((sp.assembleMs ?? NaN) * 1000) / sp.requests).toFixed(1)} µs/req)`,
    );
  }
  return lines.join('\n');
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      sut: { type: 'string', default: 'both' },
      seconds: { type: 'string', default: '8' },
      warm: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '2' },
      conns: { type: 'string', default: '16' },
      pin: { type: 'string', multiple: true, default: ['none'] },
      variants: { type: 'string', default: VARIANTS.join(',') },
      'gw-prof': { type: 'string' },
      'sut-prof': { type: 'string' },
      'same-sut': { type: 'boolean', default: false },
      'gw-nice': { type: 'string' },
      'keep-store': { type: 'string' },
      'sink-dump': { type: 'string' },
      json: { type: 'string' },
      grpc: { type: 'string', default: 'tcp' },
      perf: { type: 'string' },
      'sut-syscalls': { type: 'boolean', default: false },
      'gw-source': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    // The usage is the comment at the top of this file.
    const text = readFileSync(fileURLToPath(import.meta.url), 'utf8');
    console.log(text.slice(text.indexOf('/**') + 3, text.indexOf('*/')).replace(/^ \* ?/gm, '').trim());
    return;
  }
  const kinds: SutKind[] = values.sut === 'both' ? ['go', 'c'] : [values.sut as SutKind];
  if (values.grpc !== 'tcp' && values.grpc !== 'unix') throw new Error(`--grpc: expected tcp or unix, got ${values.grpc}`);
  const grpc: GrpcTransport = values.grpc;
  const out: { title: string; result: MatrixResult }[] = [];
  for (const pin of values.pin as Pin[]) {
    for (const sut of kinds) {
      const title =
        `${sut === 'go' ? 'Go SUT /fanout (HTTP + Redis + MariaDB)' : 'C SUT thread-per-conn /all (fresh HTTP conn + Redis)'}, ` +
        `${values.rounds} x ${values.seconds} s per variant, ${values.conns} connections, pin=${pin}` +
        (pin === 'none' ? '' : ` (loadgen+deps core 0, SUT core 1, gateway ${pin === 'any' ? 'cores 0,1' : `core ${pin}`})`) +
        (sut === 'go' ? `, gRPC over ${grpc}` : '') +
        `, load at start ${loadText()}`;
      console.error(title);
      const result = await runMatrix({
        sut,
        pin,
        seconds: Number(values.seconds),
        warmSeconds: Number(values.warm),
        rounds: Number(values.rounds),
        conns: Number(values.conns),
        variants: (values.variants as string).split(',') as Variant[],
        gwProfDir: values['gw-prof'],
        sutProfDir: values['sut-prof'],
        freshSut: !values['same-sut'],
        gwNice: values['gw-nice'] === undefined ? undefined : Number(values['gw-nice']),
        grpc,
        keepStore: values['keep-store'] === undefined ? undefined : join(values['keep-store'], `${sut}-pin-${pin}`),
        sinkDump: values['sink-dump'],
        perfDir: values.perf,
        sutSyscalls: values['sut-syscalls'],
        gwSource: values['gw-source'],
      });
      out.push({ title, result });
      console.log(table(result, title) + '\n');
    }
  }
  if (values.json) writeFileSync(values.json, JSON.stringify(out, null, 2));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // Exit through 'exit' so bench/lib/proc.ts kills the servers it started.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
