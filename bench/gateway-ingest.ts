/**
 * ingest: how fast one gateway (in this process, store on) takes shim traffic. A synthetic agent
 * in a child process writes pre-encoded frames to the shim socket as fast as the socket accepts
 * them: a hello, then batches of realistic sessions (accept, recv request, connect, send query,
 * recv reply, send response, close, close), each link a new "process". Measured at the gateway:
 * events/s, MB/s of frames, sessions/s, and the gateway process's peak RSS and heap.
 *
 *   node --import tsx bench/gateway-ingest.ts [--seconds 8] [--links 2] [--batch 256] [--store both|true|false]
 */
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import {
  AddressFamily, AgentKind, AgentMessage, Event, EventKind, Mode, SocketType,
} from '../src/index.js';
import { startBenchGateway } from './lib/gateway.js';
import { sleep } from './lib/proc.js';
import { finish, header, type Cell } from './lib/report.js';

const SESSIONS_PER_LINK = 2000;
const EVENTS_PER_SESSION = 8;
const THREADS = 8;

const inet = (port: number) => ({ family: AddressFamily.ADDRESS_FAMILY_INET, ip: Buffer.from([127, 0, 0, 1]), port, path: '' });

function frame(msg: AgentMessage): Buffer {
  const body = AgentMessage.encode(msg).finish();
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, 4);
  return out;
}

export function helloFrame(pid: number): Buffer {
  return frame({
    body: {
      $case: 'hello',
      value: {
        protocolVersion: 1, kind: AgentKind.AGENT_KIND_C_SHIM, sutName: 'ingest-bench', pid, hostname: 'bench',
        startNs: BigInt(Date.now()) * 1_000_000n, mode: Mode.MODE_RECORD, agentVersion: 'bench', parentPid: 1,
      },
    },
  });
}

/** The events of one link's sessions, in the order a shim would produce them. */
export function sessionEvents(sessions: number): Event[] {
  const events: Event[] = [];
  let seq = 0n;
  const t0 = BigInt(Date.now()) * 1_000_000n;
  const ev = (kind: EventKind, tid: number, connId: number, fd: number, extra: Partial<Event> = {}): void => {
    seq++;
    events.push(Event.fromPartial({
      seq, tsNs: t0 + seq * 20_000n, tid: BigInt(tid), kind, connId: BigInt(connId), fd,
      socketType: SocketType.SOCKET_TYPE_STREAM, ...extra,
    } as never));
  };
  for (let i = 0; i < sessions; i++) {
    const tid = 1000 + (i % THREADS);
    const inConn = 2 + 2 * i;
    const outConn = inConn + 1;
    const req = Buffer.from(
      `GET /orders/${i}?expand=items HTTP/1.1\r\nHost: orders.internal:8080\r\nUser-Agent: bench/1.0\r\n` +
      `Accept: application/json\r\nX-Request-Id: ${(i * 2654435761) >>> 0}\r\n\r\n`,
    );
    const query = Buffer.from(`*2\r\n$3\r\nGET\r\n$${`order:${i}`.length}\r\norder:${i}\r\n`);
    const value = JSON.stringify({ id: i, customer: `c${i % 97}`, items: [{ sku: 'A-1', qty: 2 }, { sku: 'B-7', qty: 1 }], total: 42.5 });
    const reply = Buffer.from(`$${value.length}\r\n${value}\r\n`);
    const body = JSON.stringify({ order: JSON.parse(value) as unknown, servedBy: 'orders-7f9c', cached: true });
    const resp = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    const len = (b: Buffer) => ({ payload: b, payloadLen: BigInt(b.length) });
    ev(EventKind.EVENT_KIND_ACCEPT, tid, inConn, 10 + (i % THREADS) * 2, { local: inet(8080), peer: inet(40000 + (i % 20000)), listenConnId: 1n });
    ev(EventKind.EVENT_KIND_RECV, tid, inConn, 10 + (i % THREADS) * 2, len(req));
    ev(EventKind.EVENT_KIND_CONNECT, tid, outConn, 11 + (i % THREADS) * 2, { local: inet(50000 + (i % 10000)), peer: inet(6379) });
    ev(EventKind.EVENT_KIND_SEND, tid, outConn, 11 + (i % THREADS) * 2, len(query));
    ev(EventKind.EVENT_KIND_RECV, tid, outConn, 11 + (i % THREADS) * 2, len(reply));
    ev(EventKind.EVENT_KIND_SEND, tid, inConn, 10 + (i % THREADS) * 2, len(resp));
    ev(EventKind.EVENT_KIND_CLOSE, tid, outConn, 11 + (i % THREADS) * 2);
    ev(EventKind.EVENT_KIND_CLOSE, tid, inConn, 10 + (i % THREADS) * 2);
  }
  return events;
}

export function batchFrames(events: readonly Event[], perBatch: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < events.length; i += perBatch) {
    out.push(frame({ body: { $case: 'batch', value: { events: events.slice(i, i + perBatch) } } }));
  }
  return out;
}

/** The synthetic agent (child process): writes links until the deadline; prints what it sent. */
async function agent(socketPath: string, seconds: number, links: number, perBatch: number): Promise<void> {
  const frames = batchFrames(sessionEvents(SESSIONS_PER_LINK), perBatch);
  const bytesPerLink = frames.reduce((a, f) => a + f.length, 0);
  const deadline = Date.now() + seconds * 1000;
  let pid = 100_000;
  let sentLinks = 0;
  let bytes = 0;
  const one = async (): Promise<void> => {
    const s = connect(socketPath);
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    s.on('data', () => undefined); // the gateway's AgentConfig frames
    bytes += helloFrame(pid).length;
    s.write(helloFrame(pid++));
    for (const f of frames) {
      if (!s.write(f)) await new Promise((r) => s.once('drain', r));
    }
    bytes += bytesPerLink;
    sentLinks++;
    await new Promise<void>((resolve) => {
      s.end(() => resolve());
    });
    s.destroy();
  };
  const lanes = Array.from({ length: links }, async () => {
    while (Date.now() < deadline) await one();
  });
  await Promise.all(lanes);
  console.log(`sent links=${sentLinks} sessions=${sentLinks * SESSIONS_PER_LINK} events=${sentLinks * SESSIONS_PER_LINK * EVENTS_PER_SESSION} bytes=${bytes}`);
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: 'string', default: '8' },
      links: { type: 'string', default: '2' },
      batch: { type: 'string', default: '256' },
      store: { type: 'string', default: 'both' },
      agent: { type: 'string' },
    },
  });
  const seconds = Number(values.seconds);
  const links = Number(values.links);
  const perBatch = Number(values.batch);
  if (values.agent !== undefined) return agent(values.agent, seconds, links, perBatch);

  const stores = values.store === 'both' ? [true, false] : [values.store !== 'false'];
  const h = header('ingest', `gateway ingest, synthetic shim agent in a child process, ${links} links at once, ${perBatch} events/batch, ${seconds} s per row`);
  const rows: Cell[][] = [];
  const results: Measured[] = [];
  for (const store of stores) {
    const r = await measure(store, seconds, links, perBatch);
    results.push(r);
    rows.push([
      store ? 'on' : 'off', Math.round(r.eventsPerSec), r.mbPerSec, Math.round(r.sessionsPerSec), `${r.events}/${r.sentEvents}`, r.sessions,
      r.measuredSeconds, r.peakRssBytes / 2 ** 20, r.peakHeapBytes / 2 ** 20, Math.round(r.gatewayCpuPercent),
    ]);
  }
  finish(h, ['store', 'events/s', 'MB/s', 'sessions/s', 'events in/sent', 'sessions', 'seconds', 'peak RSS MiB', 'peak heap MiB', 'gateway CPU %'], rows,
    { seconds, links, perBatch, results }, [
      'seconds: from the first event the gateway counted to the last one (the agent stops after --seconds; the gateway then catches up).',
      'MB/s: frame bytes written by the agent / seconds. RSS and heap: this process (the gateway), sampled every 50 ms.',
      'gateway CPU %: this process\'s user+system CPU from the first event to the end, in % of one core (100 = one core busy).',
    ]);
}

interface Measured {
  store: boolean;
  eventsPerSec: number;
  mbPerSec: number;
  sessionsPerSec: number;
  events: number;
  sentEvents: number;
  sentBytes: number;
  sessions: number;
  measuredSeconds: number;
  peakRssBytes: number;
  peakHeapBytes: number;
  badFrames: number;
  storeErrors: number;
  /** CPU of this process (the gateway) from the first event until the end, % of one core. */
  gatewayCpuPercent: number;
}

async function measure(store: boolean, seconds: number, links: number, perBatch: number): Promise<Measured> {
  const gw = await startBenchGateway({ store });
  try {
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--cpu-prof') && !a.startsWith('--heap-prof'));
    const child = spawn(process.execPath, [...execArgv, fileURLToPath(import.meta.url), '--agent', gw.agentSocket,
      '--seconds', String(seconds), '--links', String(links), '--batch', String(perBatch)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    let done = false;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => { done = true; r(code); }));
    let peakRss = 0;
    let peakHeap = 0;
    let first = 0;
    let lastMove = 0;
    let last = gw.stats();
    let doneAt = 0;
    let cpuAtFirst = process.cpuUsage();
    // Sample memory and progress until the agent is done and the gateway has caught up.
    for (;;) {
      await sleep(50);
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
      const s = gw.stats();
      if (s.events !== last.events || s.sessions !== last.sessions) {
        if (first === 0) {
          first = Date.now() - 50;
          cpuAtFirst = process.cpuUsage();
        }
        lastMove = Date.now();
        last = s;
      }
      if (done && doneAt === 0) doneAt = Date.now();
      if (done && Date.now() - Math.max(lastMove, doneAt) > 500) break;
    }
    const cpu = process.cpuUsage(cpuAtFirst);
    const cpuSecs = (cpu.user + cpu.system) / 1e6;
    await gw.gateway.flush();
    const code = await exited;
    if (code !== 0) throw new Error(`synthetic agent exited ${code}`);
    const sent = /events=(\d+) bytes=(\d+)/.exec(out);
    const sentEvents = Number(sent?.[1] ?? NaN);
    const sentBytes = Number(sent?.[2] ?? NaN);
    const st = gw.stats();
    const secs = (lastMove - first) / 1000;
    return {
      store, eventsPerSec: st.events / secs, mbPerSec: sentBytes / secs / 1e6, sessionsPerSec: st.sessions / secs,
      events: st.events, sentEvents, sentBytes, sessions: st.sessions, measuredSeconds: secs, peakRssBytes: peakRss, peakHeapBytes: peakHeap,
      badFrames: st.badFrames, storeErrors: st.storeErrors, gatewayCpuPercent: (100 * cpuSecs) / ((Date.now() - first) / 1000),
    };
  } finally {
    await gw.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
