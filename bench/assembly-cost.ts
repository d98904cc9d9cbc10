/**
 * assembly: what the gateway's assembly costs per request, on real agent traffic and apart from
 * the noise of a shared machine. A file of agent messages as they arrived (from
 * `overhead-cpu.ts --variants recording-sink --sink-dump FILE`) goes through the code the
 * assembly thread runs (AssemblyCore.ingestBatchFrame: decoder, assembler and JSONL store), on this
 * thread, with the assembler's clock replaying the arrival times. Three stages, each a separate
 * pass over the same messages, so the difference between rows is what a stage adds:
 *
 *   decode    decoding only
 *   assemble  decode + the assembler, sessions thrown away
 *   encode    decode + the assembler + encoding each session's JSON line, lines thrown away
 *   store     decode + the assembler + the store writing JSONL to a temp dir (the gateway's work)
 *
 *   node --import tsx bench/assembly-cost.ts --frames FILE [--repeat 5] [--stages decode,assemble,encode,store]
 *
 * CPU is this process's (process.cpuUsage: the store's writes run on libuv's pool and count).
 * "GC pause" is the time this thread stood still for the collector (its `gc` performance entries;
 * the collector's helper threads work beside it, and their CPU is in the CPU column): on this
 * noisy VM it is steadier than CPU time, so a change to what survives shows there first.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load-config.js';
import { AgentMessage } from '../src/generated/koala/v1/agent.pb.js';
import { AssemblyCore } from '../src/gateway/assembly-core.js';
import { STORE_PACE } from '../src/gateway/store-pacer.js';
import { forEachBatchEvent } from '../src/ingest/batch-decoder.js';
import { Logger } from '../src/log/logger.js';
import { encodeSessionLineView } from '../src/store/session-line-encoder.js';
import { finish, header, median, type Cell } from './lib/report.js';

type Stage = 'decode' | 'assemble' | 'encode' | 'store';
const STAGES: readonly Stage[] = ['decode', 'assemble', 'encode', 'store'];
/** The gateway ticks its assembler this often (src/gateway/gateway.ts). */
const TICK_MS = 250;

interface Dumped {
  atMs: number;
  frame: Buffer;
}

/** The sink's dump format: float64 LE ms, uint32 LE length, the message. */
export function readDump(path: string): Dumped[] {
  const b = readFileSync(path);
  const out: Dumped[] = [];
  let off = 0;
  while (off + 12 <= b.length) {
    const atMs = b.readDoubleLE(off);
    const len = b.readUInt32LE(off + 8);
    if (off + 12 + len > b.length) throw new Error(`${path}: truncated message at byte ${off}`);
    out.push({ atMs, frame: b.subarray(off + 12, off + 12 + len) });
    off += 12 + len;
  }
  return out;
}

/** What `koala gateway` gives its assembler with no configuration. */
function assemblerDefaults() {
  const c = loadConfig();
  return { idleAfterResponseMs: c.sessionIdleMs, bypassAddrs: c.outboundBypassAddrs, maxPayloadBytes: c.maxPayloadBytes };
}

interface Pass {
  cpuUs: number;
  wallMs: number;
  /** [start, end] on performance.now(), to find the pass's collections afterwards. */
  span: [number, number];
  gcPauseMs?: number;
  events: number;
  sessions: number;
  heapMB: number;
}

async function pass(stage: Stage, msgs: readonly Dumped[]): Promise<Pass> {
  let clock = msgs[0]?.atMs ?? 0;
  const storeDir = stage === 'store' ? mkdtempSync(join(tmpdir(), 'koala-bench-assembly-')) : undefined;
  let sessions = 0;
  const core =
    stage === 'decode'
      ? undefined
      : await AssemblyCore.open(
          { assembler: assemblerDefaults(), storeDir, logger: Logger.silent(), now: () => clock },
          (session) => {
            sessions++;
            if (stage === 'encode') encodeSessionLineView(session, true);
          },
        );
  let events = 0;
  let nextTick = clock + TICK_MS;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  // One message, as the assembly thread's message handler takes it.
  const one = (m: Dumped): void => {
    clock = m.atMs;
    if (core && clock >= nextTick) {
      core.tick();
      nextTick = clock + TICK_MS;
    }
    if (core) {
      // As the assembly thread takes a batch; the dump's other messages (its hello) by the generated decoder.
      const outcome = core.ingestBatchFrame(1, m.frame);
      if (typeof outcome === 'number') events += outcome;
      else {
        const body = AgentMessage.decode(m.frame).body;
        if (body?.$case === 'hello') core.agentConnected(1, body.value);
      }
      return;
    }
    // The decode stage: the hand decoder's one pass, events into nothing.
    const progress = forEachBatchEvent(m.frame, () => undefined);
    if (progress.complete) events += progress.applied;
    else {
      const body = AgentMessage.decode(m.frame).body;
      if (body?.$case === 'batch') events += body.value.events.length;
    }
  };
  for (const m of msgs) {
    one(m);
    // The assembly thread gets each message as its own event, so the store's writes run in
    // between; a loop that never yielded would queue every line in memory first.
    if (storeDir !== undefined) await new Promise<void>((r) => setImmediate(r));
    // Paced as the assembly thread is (src/gateway/store-pacer.ts), so the stage's memory stays
    // bounded as the gateway's does.
    if (core && core.storeQueuedBytes > STORE_PACE.highBytes) await core.storeDrained(STORE_PACE.lowBytes);
  }
  if (core) {
    clock += 60_000; // every session still open ends by idleness, as it would in a running gateway
    core.tick();
    await core.close();
  }
  const cpu = process.cpuUsage(cpu0);
  const t1 = performance.now();
  const wallMs = t1 - t0;
  if (storeDir) rmSync(storeDir, { recursive: true, force: true });
  return { cpuUs: cpu.user + cpu.system, wallMs, span: [t0, t1], events, sessions, heapMB: process.memoryUsage().heapUsed / 2 ** 20 };
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      frames: { type: 'string' },
      repeat: { type: 'string', default: '5' },
      stages: { type: 'string', default: STAGES.join(',') },
    },
  });
  if (values.frames === undefined) throw new Error('--frames FILE is required (see the comment at the top of bench/assembly-cost.ts)');
  const msgs = readDump(values.frames);
  const stages = (values.stages as string).split(',') as Stage[];
  for (const s of stages) if (!STAGES.includes(s)) throw new Error(`--stages: unknown stage ${s}`);
  const repeat = Number(values.repeat);
  const h = header('assembly', `gateway assembly of ${msgs.length} recorded agent messages (${values.frames}), ${repeat} passes per stage`);
  const results: Record<string, Pass[]> = {};
  const collections: { at: number; ms: number }[] = [];
  const gcs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) collections.push({ at: e.startTime, ms: e.duration });
  });
  gcs.observe({ entryTypes: ['gc'] });
  // Interleaved, so a drift of the machine's speed touches every stage alike.
  for (let r = 0; r < repeat + 1; r++) {
    for (const s of stages) {
      const p = await pass(s, msgs);
      if (r > 0) (results[s] ??= []).push(p); // the first round warms the JIT
    }
  }
  await new Promise<void>((r) => setTimeout(r, 10)); // the observer hears of collections a turn late
  gcs.disconnect();
  for (const p of Object.values(results).flat()) {
    p.gcPauseMs = collections.filter((c) => c.at >= p.span[0] && c.at < p.span[1]).reduce((a, c) => a + c.ms, 0);
  }
  const sessions = Object.values(results).flat().find((p) => p.sessions > 0)?.sessions;
  const rows: Cell[][] = stages.map((s) => {
    const ps = results[s] ?? [];
    const cpu = median(ps.map((p) => p.cpuUs));
    const events = ps[0]?.events ?? 0;
    return [
      s,
      cpu / events,
      sessions ? cpu / sessions : undefined,
      (events / cpu) * 1e6,
      sessions ? (sessions / cpu) * 1e6 : undefined,
      median(ps.map((p) => p.wallMs)),
      median(ps.map((p) => p.gcPauseMs ?? 0)),
      Math.max(...ps.map((p) => p.heapMB)),
    ];
  });
  finish(
    h,
    ['stage', 'CPU us/event', 'CPU us/session', 'events/s', 'sessions/s', 'wall ms', 'GC pause ms', 'heap MB'],
    rows,
    { messages: msgs.length, sessions, results },
    [`${results[stages[0]!]?.[0]?.events ?? 0} events, ${sessions ?? '-'} sessions per pass; medians of ${repeat} passes`],
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
