/**
 * http-sut: the thread-per-connection C SUT (test/fixtures/c-sut) driven by a closed-loop C load
 * generator (bench/c/loadgen.c: fixed keep-alive connections, fixed duration), once without the
 * shim and once recorded (LD_PRELOAD + an in-process gateway with its store on), in the same run,
 * interleaved. Two endpoints: /hello (no downstream) and /fresh (one downstream HTTP call per
 * request on a fresh connection to bench/c/downstream.c, which is not recorded).
 *
 *   node --import tsx bench/http-sut-throughput.ts [--conns 8] [--seconds 3] [--warmup 1] [--reps 2]
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildCSut } from '../test/helpers/sut.js';
import { startBenchGateway } from './lib/gateway.js';
import { buildProgram, parseKv, requireShim } from './lib/native.js';
import { run, startServer, type Server } from './lib/proc.js';
import { finish, header, median, type Cell } from './lib/report.js';

const ENDPOINTS = [
  { path: '/hello', what: '/hello (no downstream)' },
  { path: '/fresh', what: '/fresh (1 downstream call)' },
] as const;

const CONDS = ['plain', 'shim, no gateway', 'recorded'] as const;

interface Run {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      conns: { type: 'string', default: '8' },
      seconds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      reps: { type: 'string', default: '2' },
    },
  });
  const conns = Number(values.conns);
  const seconds = Number(values.seconds);
  const warmup = Number(values.warmup);
  const reps = Number(values.reps);
  const h = header('http-sut', `C thread-per-connection SUT, ${conns} keep-alive connections, ${seconds} s per run (+${warmup} s warm-up), median of ${reps} interleaved runs`);
  const loadgen = buildProgram('loadgen');
  const downstreamBin = buildProgram('downstream');
  const sutBuild = buildCSut('thread-per-conn');
  const gw = await startBenchGateway({ store: true });
  const servers: Server[] = [];
  try {
    const downstream = await startServer(downstreamBin, ['0'], /^listening (\d+)$/);
    servers.push(downstream);
    const baseEnv: NodeJS.ProcessEnv = { ...process.env, KOALA_TEST_HTTP_PORT: downstream.ready[1] ?? '0', KOALA_SUT_NAME: 'bench-c-sut', KOALA_LOG_LEVEL: 'ERROR' };
    delete baseEnv.LD_PRELOAD;
    const plain = await startServer(sutBuild.bin, ['0'], /^listening (\d+)$/, { env: baseEnv });
    servers.push(plain);
    const noGateway = await startServer(sutBuild.bin, ['0'], /^listening (\d+)$/, {
      env: { ...baseEnv, LD_PRELOAD: requireShim(), KOALA_AGENT_SOCKET: join(tmpdir(), `koala-bench-no-gateway-${process.pid}.sock`) },
    });
    servers.push(noGateway);
    const recorded = await startServer(sutBuild.bin, ['0'], /^listening (\d+)$/, {
      env: { ...baseEnv, LD_PRELOAD: requireShim(), KOALA_AGENT_SOCKET: gw.agentSocket },
    });
    servers.push(recorded);
    const sutPort = { plain: Number(plain.ready[1]), 'shim, no gateway': Number(noGateway.ready[1]), recorded: Number(recorded.ready[1]) };
    const runs = new Map<string, Run[]>();
    const gwDelta = new Map<string, { sessions: number; events: number; dropped: number; cpuPercent: number[] }>();
    for (let rep = 0; rep < reps; rep++) {
      for (const ep of ENDPOINTS) {
        for (const cond of CONDS) {
          const before = gw.stats();
          const cpu0 = process.cpuUsage();
          const t0 = Date.now();
          const r = await run(loadgen, [String(sutPort[cond]), String(conns), String(warmup * 1000), String(seconds * 1000), ep.path], {
            timeoutMs: (warmup + seconds) * 1000 + 30_000,
          });
          if (r.code !== 0) throw new Error(`loadgen exited ${r.code}: ${r.stderr}`);
          const kv = parseKv(r.stdout);
          const k = `${ep.path}|${cond}`;
          runs.set(k, [...(runs.get(k) ?? []), { rps: kv.rps ?? NaN, p50: kv.p50_us ?? NaN, p99: kv.p99_us ?? NaN, errors: kv.errors ?? 0, requests: kv.requests ?? 0 }]);
          if (cond === 'recorded') {
            const cpu = process.cpuUsage(cpu0);
            const cpuPct = (100 * (cpu.user + cpu.system) / 1000) / (Date.now() - t0);
            const after = await gw.settle(300, 10_000);
            const d = gwDelta.get(ep.path) ?? { sessions: 0, events: 0, dropped: 0, cpuPercent: [] };
            d.cpuPercent.push(cpuPct);
            d.sessions += after.sessions - before.sessions;
            d.events += after.events - before.events;
            d.dropped += after.droppedEvents - before.droppedEvents;
            gwDelta.set(ep.path, d);
          }
        }
      }
    }
    const rows: Cell[][] = [];
    const results: Record<string, unknown>[] = [];
    for (const ep of ENDPOINTS) {
      const p = runs.get(`${ep.path}|plain`) ?? [];
      const pr = median(p.map((x) => x.rps));
      const d = gwDelta.get(ep.path);
      const byCond: Record<string, unknown> = {};
      for (const cond of CONDS) {
        const xs = runs.get(`${ep.path}|${cond}`) ?? [];
        const rps = median(xs.map((x) => x.rps));
        rows.push([
          ep.what, cond, Math.round(rps), median(xs.map((x) => x.p50)), median(xs.map((x) => x.p99)),
          xs.reduce((a, x) => a + x.errors, 0),
          cond === 'plain' ? '' : (rps / pr).toFixed(3),
          cond === 'recorded' && d ? `${d.sessions}/${d.dropped}` : '',
          cond === 'recorded' && d ? Math.round(median(d.cpuPercent)) : '',
        ]);
        byCond[cond] = { runs: xs, rps, ratio: rps / pr };
      }
      results.push({ endpoint: ep.path, ...byCond, gateway: d });
    }
    finish(h, ['endpoint', 'condition', 'req/s', 'p50 µs', 'p99 µs', 'errors', '÷ plain', 'sessions/dropped events', 'gateway CPU %'], rows,
      { conns, seconds, warmup, reps, aimRatio: 0.95, results },
      [
        'The load generator, the SUT, the downstream and the gateway share the same cores: a recorded run pays for the',
        'gateway\'s CPU too. sessions/dropped: sessions the gateway emitted during the recorded runs (warm-up included) / events the agent dropped.',
        'gateway CPU %: the in-process gateway\'s CPU during a recorded run (load generator running), in % of one core.',
      ]);
  } finally {
    for (const s of servers.reverse()) await s.stop();
    await gw.close();
    sutBuild.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
