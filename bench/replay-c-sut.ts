/**
 * replay-c: end-to-end replay of a real SUT under the shim. Records sessions of the C
 * thread-per-connection SUT (test/fixtures/c-sut, /fresh: one downstream HTTP call per request on
 * a fresh connection), stops the downstream, then replays them through a gateway in replay mode
 * (`startGateway({ mode: 'replay' })` + `replaySession`, as `koala replay` does) against a fresh
 * SUT process with KOALA_MODE=replay, at concurrency 1, 8 and 32. Every outbound call is answered
 * by the outbound mock from the recording.
 *
 *   node --import tsx bench/replay-c-sut.ts [--seconds 4] [--max 3000] [--settle 0]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startGateway, type Session } from '../src/index.js';
import { buildCSut } from '../test/helpers/sut.js';
import { startBenchGateway } from './lib/gateway.js';
import { buildProgram, requireShim } from './lib/native.js';
import { run, sleep, startServer, type Server } from './lib/proc.js';
import { finish, header, quantile, type Cell } from './lib/report.js';

const SUT_NAME = 'bench-c-sut';

/** Records /fresh sessions: loadgen with 8 keep-alive connections for `ms`. */
async function record(bin: string, ms: number): Promise<{ sessions: Session[]; downstreamPort: number }> {
  const gw = await startBenchGateway({ store: false });
  const sessions: Session[] = [];
  gw.gateway.on('session', (s) => void sessions.push(s));
  const servers: Server[] = [];
  try {
    const downstream = await startServer(buildProgram('downstream'), ['0'], /^listening (\d+)$/);
    servers.push(downstream);
    const env: NodeJS.ProcessEnv = {
      ...process.env, LD_PRELOAD: requireShim(), KOALA_AGENT_SOCKET: gw.agentSocket, KOALA_SUT_NAME: SUT_NAME,
      KOALA_LOG_LEVEL: 'ERROR', KOALA_TEST_HTTP_PORT: downstream.ready[1] ?? '0',
    };
    const sut = await startServer(bin, ['0'], /^listening (\d+)$/, { env });
    servers.push(sut);
    const r = await run(buildProgram('loadgen'), [sut.ready[1] ?? '0', '8', '0', String(ms), '/fresh'], { timeoutMs: ms + 30_000 });
    if (r.code !== 0) throw new Error(`loadgen exited ${r.code}: ${r.stderr}`);
    await sut.stop();
    await gw.settle(300, 10_000);
    return { sessions, downstreamPort: Number(downstream.ready[1]) };
  } finally {
    for (const s of servers.reverse()) await s.stop();
    await gw.close();
  }
}

interface Row {
  concurrency: number;
  settleMs: number;
  sessions: number;
  passed: number;
  perSec: number;
  p50: number;
  p99: number;
  firstFailure: string | undefined;
}

async function replayLevel(bin: string, pool: Session[], downstreamPort: number, concurrency: number, settleMs: number, seconds: number): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'koala-bench-replay-'));
  const gw = await startGateway({
    mode: 'replay', agentSocket: join(dir, 'agent.sock'), agentGrpcAddr: '127.0.0.1:0', outboundAddr: '127.0.0.1:0',
    replay: { api: false, settleMs },
  });
  let sut: Server | undefined;
  try {
    sut = await startServer(bin, ['0'], /^listening (\d+)$/, {
      env: {
        ...process.env, LD_PRELOAD: requireShim(), KOALA_AGENT_SOCKET: gw.agentSocket, KOALA_SUT_NAME: SUT_NAME, KOALA_MODE: 'replay',
        KOALA_OUTBOUND_ADDR: gw.outboundAddr ?? '', KOALA_LOG_LEVEL: 'ERROR', KOALA_TEST_HTTP_PORT: String(downstreamPort),
      },
    });
    const until = Date.now() + 10_000;
    while (!gw.agentNames().includes(SUT_NAME)) {
      if (Date.now() > until) throw new Error('the replay SUT\'s agent did not connect');
      await sleep(20);
    }
    const target = { host: '127.0.0.1', port: Number(sut.ready[1]) };
    const durations: number[] = [];
    let passed = 0;
    let next = 0;
    let firstFailure: string | undefined;
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < pool.length && performance.now() < deadline) {
        const s = pool[next++] as Session;
        const ts = performance.now();
        const r = await gw.replaySession(s, { sut: target });
        durations.push(performance.now() - ts);
        if (r.verdict.pass) passed++;
        else firstFailure ??= `${s.id}: ${r.verdict.reasons.join('; ')}`;
      }
    }));
    const secs = (performance.now() - t0) / 1000;
    const d = durations.sort((a, b) => a - b);
    return { concurrency, settleMs, sessions: d.length, passed, perSec: d.length / secs, p50: quantile(d, 0.5), p99: quantile(d, 0.99), firstFailure };
  } finally {
    await sut?.stop();
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { seconds: { type: 'string', default: '4' }, max: { type: 'string', default: '3000' }, settle: { type: 'string', default: '0' } },
  });
  const seconds = Number(values.seconds);
  const max = Number(values.max);
  const settle = Number(values.settle);
  const h = header('replay-c', `real C SUT under the shim in replay mode, gateway replay (mock answers /fresh's downstream call), ${seconds} s or ${max} sessions per row`);
  const build = buildCSut('thread-per-conn');
  try {
    const rec = await record(build.bin, 3000);
    const usable = rec.sessions.filter((s) => s.inbound?.request.toString('latin1').startsWith('GET /fresh') && s.talks.length === 1);
    const plan: Array<[number, number]> = [[1, settle], [8, settle], [32, settle], [32, 50]];
    const rows: Row[] = [];
    let offset = 0;
    for (const [c, st] of plan) {
      const pool = usable.slice(offset, offset + max);
      offset += pool.length;
      if (offset >= usable.length) offset = 0;
      rows.push(await replayLevel(build.bin, pool, rec.downstreamPort, c, st, seconds));
    }
    const cells: Cell[][] = rows.map((r) => [`${r.concurrency}`, `${r.settleMs}`, Math.round(r.perSec), `${r.passed}/${r.sessions}`, r.p50, r.p99]);
    const failures = rows.filter((r) => r.firstFailure !== undefined).map((r) => `first failure at concurrency ${r.concurrency}: ${r.firstFailure}`);
    finish(h, ['concurrency', 'settle ms', 'sessions/s', 'passed', 'session p50 ms', 'session p99 ms'], cells, {
      seconds, max, recorded: rec.sessions.length, usable: usable.length, rows, aims: { sessionsPerSec: 1000 },
    }, [
      `recorded ${rec.sessions.length} sessions (${usable.length} /fresh sessions with one talk); each row replays its own slice, each session once.`,
      'The gateway (driver, mock, agent ingest), the SUT and its shim writer share the 2 cores. settle ms: the engine\'s wait for late calls.',
      ...failures,
    ]);
  } finally {
    build.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
