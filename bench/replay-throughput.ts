/**
 * replay: sessions replayed per second through ReplayEngine at concurrency 1, 8 and 32; the
 * latency the outbound mock adds to one call; and the time one match decision takes against a
 * session of 1,000 talks (exact, chunk, sim).
 *
 * Replay mode is not wired into the gateway yet, so the SUT is a small node HTTP service that
 * plays its own agent, as the replay unit tests do (bench/lib/replay-sut.ts), by default in a
 * worker thread so that it has its own event loop and its reports arrive by message. The engine,
 * its inbound driver and outbound mock run in the main thread. The baseline for "added latency"
 * is the same SUT calling a plain server that answers the same bytes at once.
 *
 *   node --import tsx bench/replay-throughput.ts [--seconds 4] [--max 4000] [--settle 0] [--match true]
 */
import { createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { ReplayEngine } from '../src/replay/replay-engine.js';
import { ReplayLedger } from '../src/replay/match/replay-ledger.js';
import type { Session } from '../src/generated/koala/v1/session.pb.js';
import { addr, makeSession } from '../test/replay/make-session.js';
import { finish, header, median, quantile, type Cell } from './lib/report.js';
import { getCmd, httpOk, startNodeSut, type SutReport } from './lib/replay-sut.js';

const PID = 4242;
const REDIS = '127.0.0.1:6379';

function recorded(id: string, key: string, value: string): Session {
  return makeSession(
    id,
    { request: `GET /item/${key} HTTP/1.1\r\nHost: sut\r\n\r\n`, response: httpOk(JSON.stringify({ key, value })) },
    [{ dst: REDIS, request: getCmd(key), response: `$${value.length}\r\n${value}\r\n` }],
  );
}

interface Sut {
  port: number;
  /** ms from starting the outbound connect to the whole reply, one per call (complete after stop). */
  callMs(): number[];
  stop(): Promise<void>;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('no port');
  return a.port;
}

function toEngine(engine: ReplayEngine): (r: SutReport) => void {
  return (r) => {
    if (r.t === 'inbound') engine.onAgentInbound(PID, r.vtid, r.peerPort);
    else engine.onAgentConnect(PID, r.localPort, addr(REDIS), r.vtid);
  };
}

/** The SUT in this thread (one event loop for everything) or in a worker thread (two cores). */
async function startSut(engine: ReplayEngine, targetPort: number, where: 'inline' | 'worker'): Promise<Sut> {
  if (where === 'inline') {
    const sut = await startNodeSut(targetPort, toEngine(engine));
    return { port: sut.port, callMs: () => sut.callMs, stop: () => sut.stop() };
  }
  // A worker does not inherit `--import tsx`: register tsx's loader in it, then load the TypeScript.
  const file = new URL('./lib/replay-sut-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(file)}); })`;
  const worker = new Worker(boot, { eval: true, workerData: { targetPort } });
  const onReport = toEngine(engine);
  let calls: number[] = [];
  let gotCalls: () => void = () => undefined;
  const callsIn = new Promise<void>((r) => (gotCalls = r));
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (m: SutReport | { t: 'ready'; port: number } | { t: 'calls'; callMs: number[] }) => {
      if (m.t === 'ready') resolve(m.port);
      else if (m.t === 'calls') {
        calls = m.callMs;
        gotCalls();
      } else onReport(m);
    });
  });
  return {
    port,
    callMs: () => calls,
    stop: async () => {
      worker.postMessage({ t: 'stop' });
      await callsIn;
      await worker.terminate();
    },
  };
}

/** The baseline dependency: answers every RESP GET with the value the recording has for its key. */
async function startDirect(): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let acc = '';
    s.on('data', (d: Buffer) => {
      acc += d.toString('latin1');
      const m = /^\*2\r\n\$3\r\nGET\r\n\$\d+\r\n(\S+)\r\n/.exec(acc);
      if (!m) return;
      acc = '';
      const value = `v-${m[1]}`;
      s.write(`$${value.length}\r\n${value}\r\n`);
    });
  });
  const port = await listen(server);
  return { port, stop: async () => { for (const s of sockets) s.destroy(); await new Promise((r) => server.close(r)); } };
}

interface Level {
  sut: 'inline' | 'worker';
  concurrency: number;
  settleMs: number;
  target: 'mock' | 'direct';
  sessions: number;
  passed: number;
  seconds: number;
  perSec: number;
  p50: number;
  p99: number;
  callP50: number;
  callP99: number;
}

let nextId = 0;

async function runLevel(where: 'inline' | 'worker', concurrency: number, settleMs: number, target: 'mock' | 'direct', seconds: number, max: number): Promise<Level> {
  const engine = new ReplayEngine({ outbound: { host: '127.0.0.1', port: 0 }, reportWaitMs: 2000, settleMs, idleMs: 100 });
  const info = await engine.start();
  const direct = await startDirect();
  const sut = await startSut(engine, target === 'mock' ? info.port : direct.port, where);
  const durations: number[] = [];
  let passed = 0;
  let started = 0;
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  try {
    const worker = async (): Promise<void> => {
      while (started < max && performance.now() < until) {
        const n = nextId++;
        started++;
        const key = `k:${n}`;
        const ts = performance.now();
        const r = await engine.replaySession(recorded(`s${n}`, key, `v-${key}`), { sut: { host: '127.0.0.1', port: sut.port } });
        durations.push(performance.now() - ts);
        if (r.verdict.pass) passed++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await sut.stop();
    await direct.stop();
    await engine.close();
  }
  const secs = (performance.now() - t0) / 1000;
  const d = [...durations].sort((a, b) => a - b);
  const c = [...sut.callMs()].sort((a, b) => a - b);
  return {
    sut: where, concurrency, settleMs, target, sessions: durations.length, passed, seconds: secs, perSec: durations.length / secs,
    p50: quantile(d, 0.5), p99: quantile(d, 0.99), callP50: quantile(c, 0.5), callP99: quantile(c, 0.99),
  };
}

/** One match decision against a 1,000-talk session; median and p99 over `reps` fresh ledgers. */
function matchBench(strategy: 'chunk' | 'sim', kind: 'exact' | 'near', reps: number): { medianUs: number; p99Us: number; inOrderUs: number } {
  const talks = 1000;
  const dst = '127.0.0.1:8081';
  const req = (i: number, trace: string): string =>
    `GET /api/inventory/items/${i}?fields=sku,qty,price&warehouse=${i % 7} HTTP/1.1\r\nHost: inventory.internal\r\n` +
    `Accept: application/json\r\nX-Trace-Id: ${trace}\r\n\r\n`;
  const specs = Array.from({ length: talks }, (_, i) => ({ dst, request: req(i, `rec-${i * 7919}`), response: httpOk(`{"id":${i}}`) }));
  const session = makeSession('m', { request: 'GET / HTTP/1.1\r\n\r\n', response: httpOk('{}') }, specs);
  const live = (i: number): Buffer => Buffer.from(kind === 'exact' ? req(i, `rec-${i * 7919}`) : req(i, `live-${i}`), 'latin1');
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const ledger = new ReplayLedger({ strategy, simThreshold: 0.7 });
    ledger.addSession(session);
    const conn = ledger.openConnection(addr(dst), 'm');
    const request = live(talks - 1); // the last talk: the exact scan and the strategies see all 1,000
    const t = performance.now();
    const res = conn.serve(request, 'm');
    times.push((performance.now() - t) * 1000);
    if (res.decision.talkIndex !== talks - 1) throw new Error(`match bench: ${strategy}/${kind} chose ${res.decision.talkIndex}: ${res.decision.explanation}`);
  }
  // Serving the whole session in recorded order: the candidate list shrinks as talks are consumed.
  const ledger = new ReplayLedger({ strategy, simThreshold: 0.7 });
  ledger.addSession(session);
  const conn = ledger.openConnection(addr(dst), 'm');
  const t = performance.now();
  for (let i = 0; i < talks; i++) conn.serve(live(i), 'm');
  const inOrderUs = ((performance.now() - t) * 1000) / talks;
  const s = [...times].sort((a, b) => a - b);
  return { medianUs: median(s), p99Us: quantile(s, 0.99), inOrderUs };
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { seconds: { type: 'string', default: '4' }, max: { type: 'string', default: '4000' }, settle: { type: 'string', default: '0' }, match: { type: 'string', default: 'true' } },
  });
  const seconds = Number(values.seconds);
  const max = Number(values.max);
  const settle = Number(values.settle);
  const h = header('replay', `ReplayEngine with one mocked Redis call per session; node SUT in a worker thread (or inline), ${seconds} s or ${max} sessions per row`);
  // A short warm-up so the JIT does not bill the first row.
  await runLevel('worker', 8, settle, 'mock', 1, 300);
  const levels: Level[] = [];
  for (const c of [1, 8, 32]) levels.push(await runLevel('worker', c, settle, 'mock', seconds, max));
  levels.push(await runLevel('worker', 32, 50, 'mock', Math.min(seconds, 3), max));
  levels.push(await runLevel('inline', 32, settle, 'mock', Math.min(seconds, 3), max));
  const direct1 = await runLevel('worker', 1, settle, 'direct', Math.min(seconds, 2), max);
  const direct8 = await runLevel('worker', 8, settle, 'direct', Math.min(seconds, 2), max);
  const rows: Cell[][] = levels.map((l) => [
    l.sut, 'mock', `${l.concurrency}`, `${l.settleMs}`, Math.round(l.perSec), `${l.passed}/${l.sessions}`, l.p50, l.p99, l.callP50, l.callP99,
  ]);
  for (const l of [direct1, direct8]) rows.push([l.sut, 'direct', `${l.concurrency}`, `${l.settleMs}`, Math.round(l.perSec), '-', l.p50, l.p99, l.callP50, l.callP99]);
  const m1 = levels[0];
  const m8 = levels[1];
  const added = {
    c1: { p50: (m1?.callP50 ?? NaN) - direct1.callP50, p99: (m1?.callP99 ?? NaN) - direct1.callP99 },
    c8: { p50: (m8?.callP50 ?? NaN) - direct8.callP50, p99: (m8?.callP99 ?? NaN) - direct8.callP99 },
  };
  const matches = values.match === 'false' ? {} : {
    exact: matchBench('chunk', 'exact', 200),
    chunk: matchBench('chunk', 'near', 200),
    sim: matchBench('sim', 'near', 50),
  };
  finish(h, ['SUT', 'dependency', 'concurrency', 'settle ms', 'sessions/s', 'passed', 'session p50 ms', 'session p99 ms', 'call p50 ms', 'call p99 ms'], rows, {
    seconds, max, levels, direct: [direct1, direct8], addedCallMs: added, matchUs: matches, aims: { sessionsPerSec: 1000, addedP99Ms: 1 },
  }, [
    `call = the SUT's outbound call, from connect() to the whole reply. Added by the mock (mock − direct): ` +
      `concurrency 1 p50 ${added.c1.p50.toFixed(3)} ms, p99 ${added.c1.p99.toFixed(3)} ms; concurrency 8 p50 ${added.c8.p50.toFixed(3)} ms, p99 ${added.c8.p99.toFixed(3)} ms.`,
    `match against a 1,000-talk session (request = the last talk; µs per decision, median / p99; then mean per call serving all 1,000 in order):`,
    ...Object.entries(matches).map(([k, v]) => `  ${k.padEnd(5)} ${v.medianUs.toFixed(1)} / ${v.p99Us.toFixed(1)} µs; in order ${v.inOrderUs.toFixed(1)} µs per call`),
    'settle ms: ReplayEngine settleMs, the wait after each response for late outbound calls (default 50).',
    'SUT worker: the SUT runs in a worker thread and its agent reports reach the engine by message; inline: one event loop for all.',
    'direct: the same SUT calling a plain server instead of the mock (the baseline for "added"; verdicts not counted).',
  ]);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
