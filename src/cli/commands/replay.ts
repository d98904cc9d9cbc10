/**
 * `koala replay`: starts a replay gateway in this process, loads recorded sessions, replays them
 * against the SUT(s) with bounded concurrency, writes the reports, prints the summary and exits
 * non-zero when any session failed. The SUT runs under an agent pointed at this gateway: either
 * started here (`-- CMD ARGS…`, like `koala run`) or started by the user (`--wait-agent NAME`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import PQueue from 'p-queue';
import { renderOptionHelp } from '../../config/config-doc.js';
import { loadConfig } from '../../config/load-config.js';
import { formatHostPort, parseHostPort, type HostPort } from '../../config/option-parsers.js';
import { KoalaError } from '../../errors.js';
import { Gateway } from '../../gateway/gateway.js';
import type { Session } from '../../generated/koala/v1/session.pb.js';
import { Logger } from '../../log/logger.js';
import type { SessionResult } from '../../replay/replay-engine.js';
import { toJunitReport } from '../../replay/report/junit-report.js';
import { buildRunReport, toJsonReport } from '../../replay/report/run-report.js';
import { toTextReport } from '../../replay/report/text-report.js';
import { readSessions } from '../../store/session-reader.js';
import { configFlagSpec, configFlags, parseCommandArgs, usage } from '../cli-args.js';
import { shimPath } from '../package-root.js';
import { agentEnv } from './run.js';

export const replayHelp = `Usage: koala replay [--sut NAME] [--sut-addr HOST:PORT] [--sut-map NAME=HOST:PORT]… [--concurrency N]
                    [--report-json FILE] [--report-junit FILE] [--strategy chunk|sim] [--threshold X]
                    [--match-fail close|error] [--wait-agent NAME]… [options] STORE_PATH… [-- CMD [ARGS…]]

Replays recorded sessions (JSON Lines files, or directories of them) against a SUT: starts a gateway
in replay mode in this process, sends each session's request to the SUT, answers the SUT's outbound
calls from the recording (nothing reaches a real dependency) and compares. Prints one line on
stdout when the gateway is ready, then the summary; exits 0 when every session passed, 1 otherwise.

The SUT must run under a koala agent pointed at this gateway, in replay mode:
  * with -- CMD ARGS…, koala starts it under the shim (like koala run, KOALA_MODE=replay and
    KOALA_OUTBOUND_ADDR set), waits for its agent and for --sut-addr to accept, replays, stops it;
  * otherwise start it yourself with the addresses of the ready line and pass --wait-agent NAME
    (repeatable) so the replay starts once that agent is connected.

  --sut NAME                Replay only sessions of this SUT; also the agent name of -- CMD.
  --sut-map NAME=HOST:PORT  Where the sessions of SUT NAME are sent (repeatable; several SUTs in one
                            run). Sessions of other SUTs go to --sut-addr.
  --concurrency N           Sessions replayed at once [default 1].
  --report-json FILE        Write the full report as JSON.
  --report-junit FILE       Write a JUnit XML report (one testcase per session).
  --strategy chunk|sim      Alias of --match-strategy.
  --threshold X             Alias of --match-threshold.
  --match-fail close|error  No recorded talk for an outbound request: close the connection
                            [default] or answer a protocol error (HTTP 502, RESP -ERR, MySQL ERR).
  --wait-agent NAME         Wait until an agent of SUT NAME is connected before replaying.
  --wait-timeout MS         How long to wait for agents and the SUT [default 30000].
  --explain                 Print every outbound call's match explanation, not only failures'.
${renderOptionHelp()}
  -h, --help                Show this help.
`;

const OWN_FLAGS = {
  sut: { type: 'string' },
  'sut-map': { type: 'string', multiple: true },
  concurrency: { type: 'string' },
  'report-json': { type: 'string' },
  'report-junit': { type: 'string' },
  strategy: { type: 'string' },
  threshold: { type: 'string' },
  'match-fail': { type: 'string' },
  'wait-agent': { type: 'string', multiple: true },
  'wait-timeout': { type: 'string' },
  explain: { type: 'boolean' },
} as const;

export async function replayCommand(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  const command = dash >= 0 ? argv.slice(dash + 1) : [];
  const { values, positionals } = parseCommandArgs('replay', own, { ...configFlagSpec(), ...OWN_FLAGS }, { positionals: true });
  if (values.help) {
    process.stdout.write(replayHelp);
    return 0;
  }
  if (positionals.length === 0) throw usage('replay: give at least one STORE_PATH (a .jsonl file or a directory)');
  if (dash >= 0 && command.length === 0) throw usage('replay: missing the command to run after --');
  const sutName = str(values.sut);
  if (sutName !== undefined && sutName.trim() === '') throw usage('replay: --sut needs a non-empty NAME');
  const sutMap = parseSutMap(values['sut-map']);
  const concurrency = positiveInt(str(values.concurrency) ?? '1', '--concurrency');
  const waitTimeoutMs = positiveInt(str(values['wait-timeout']) ?? '30000', '--wait-timeout');
  const matchFail = str(values['match-fail']) ?? 'close';
  if (matchFail !== 'close' && matchFail !== 'error') throw usage('replay: --match-fail expects close or error');

  const flags = configFlags(values);
  if (typeof values.strategy === 'string') flags['match-strategy'] = values.strategy;
  if (typeof values.threshold === 'string') flags['match-threshold'] = values.threshold;
  const config = loadConfig({ env: process.env, flags });
  if (config.mode === 'record') config.mode = 'replay';
  const sutAddr = parseHostPort(config.sutAddr);

  const sessions = await loadSessions(positionals, sutName, sutMap);
  if (sessions.length === 0) {
    process.stderr.write(`koala replay: no sessions${sutName === undefined ? '' : ` of SUT ${sutName}`} in ${positionals.join(' ')}\n`);
    return 1;
  }

  const logger = Logger.create({ level: config.logLevel, file: config.logFile });
  // The replay API is served only when asked for: a one-shot run needs no listener on 2514.
  const apiWanted = typeof values['inbound-addr'] === 'string' || process.env.KOALA_INBOUND_ADDR !== undefined;
  const gw = await Gateway.start({ ...config, logger, replay: { onNoMatch: matchFail, api: apiWanted } });
  let child: ChildProcess | undefined;
  const stopping = onSignals(() => void gw.close());
  try {
    gw.preload(sessions);
    process.stdout.write(
      `koala replay ready mode=${config.mode} agent-socket=${gw.agentSocket} grpc=${gw.agentGrpcAddr} outbound=${gw.outboundAddr ?? '-'}` +
        `${gw.inboundAddr === undefined ? '' : ` inbound=${gw.inboundAddr}`} sessions=${sessions.length}\n`,
    );
    const waitNames = arr(values['wait-agent']);
    if (command.length > 0) {
      child = startSut(command, config, sutName, gw);
      if (sutName !== undefined && !waitNames.includes(sutName)) waitNames.push(sutName);
    }
    await waitForAgents(gw, waitNames, waitTimeoutMs, child);
    if (command.length > 0) {
      for (const addr of sutListenAddrs(sutAddr, sutMap)) await waitForListen(addr, waitTimeoutMs, child);
    }
    const started = Date.now();
    const results = await replayAll(gw, sessions, { concurrency, sutAddr, sutMap });
    const report = buildRunReport(results, started);
    if (typeof values['report-json'] === 'string') await writeFile(values['report-json'], toJsonReport(report));
    if (typeof values['report-junit'] === 'string') await writeFile(values['report-junit'], toJunitReport(report));
    process.stdout.write(toTextReport(report, { explain: values.explain === true }));
    return report.failed === 0 ? 0 : 1;
  } finally {
    stopping();
    if (child !== undefined) await stopChild(child);
    await gw.close();
    logger.close();
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const arr = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

function positiveInt(raw: string, flag: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw usage(`replay: ${flag} expects a positive integer, got "${raw}"`);
  return n;
}

function parseSutMap(v: unknown): Map<string, HostPort> {
  const out = new Map<string, HostPort>();
  for (const entry of arr(v)) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw usage(`replay: --sut-map expects NAME=HOST:PORT, got "${entry}"`);
    try {
      out.set(entry.slice(0, eq), parseHostPort(entry.slice(eq + 1)));
    } catch (err) {
      throw usage(`replay: --sut-map ${entry}: ${(err as Error).message}`);
    }
  }
  return out;
}

async function loadSessions(paths: string[], sut: string | undefined, sutMap: Map<string, HostPort>): Promise<Session[]> {
  for (const p of paths) if (!existsSync(p)) throw new KoalaError('KOALA_ERR_USAGE', `replay: ${p} does not exist`);
  const out: Session[] = [];
  for await (const r of readSessions(paths, sut === undefined ? {} : { sut })) {
    if ('error' in r) {
      process.stderr.write(`${r.file}:${r.line}: ${r.error.message}\n`);
      continue;
    }
    // With a SUT map and no --sut, the map names the SUTs of this run.
    if (sut === undefined && sutMap.size > 0 && !sutMap.has(r.session.sut)) continue;
    out.push(r.session);
  }
  return out;
}

function startSut(command: string[], config: ReturnType<typeof loadConfig>, sutName: string | undefined, gw: Gateway): ChildProcess {
  const shim = shimPath();
  if (!existsSync(shim)) throw new KoalaError('KOALA_ERR_USAGE', `replay: the koala shim is missing (${shim}); build it with \`npm install\``);
  const env = agentEnv(
    { ...config, agentSocket: gw.agentSocket, agentGrpcAddr: gw.agentGrpcAddr, outboundAddr: gw.outboundAddr ?? config.outboundAddr },
    sutName,
    process.env,
    shim,
  );
  // The SUT's output goes to stderr: stdout carries only the ready line and the report.
  return spawn(command[0]!, command.slice(1), { stdio: ['ignore', 2, 2], env });
}

function childGone(child: ChildProcess | undefined): string | undefined {
  if (child === undefined) return undefined;
  if (child.exitCode !== null) return `the SUT exited with code ${child.exitCode}`;
  if (child.signalCode !== null) return `the SUT was killed by ${child.signalCode}`;
  return undefined;
}

async function waitForAgents(gw: Gateway, names: string[], timeoutMs: number, child: ChildProcess | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const have = gw.agentNames();
    const missing = names.filter((n) => !have.includes(n));
    if (missing.length === 0) return;
    const gone = childGone(child);
    if (gone !== undefined) throw new KoalaError('KOALA_ERR_REPLAY', `${gone} before its agent connected`);
    if (Date.now() > deadline) {
      throw new KoalaError('KOALA_ERR_REPLAY', `no agent of SUT ${missing.join(', ')} connected within ${timeoutMs} ms (connected: ${have.join(', ') || 'none'})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The distinct addresses the started SUT must accept on before replay begins. */
export function sutListenAddrs(sutAddr: HostPort, sutMap: ReadonlyMap<string, HostPort>): HostPort[] {
  const byKey = new Map<string, HostPort>();
  for (const a of sutMap.size > 0 ? sutMap.values() : [sutAddr]) byKey.set(formatHostPort(a), a);
  return [...byKey.values()];
}

async function waitForListen(at: HostPort, timeoutMs: number, child: ChildProcess | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: at.host, port: at.port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    const gone = childGone(child);
    if (gone !== undefined) throw new KoalaError('KOALA_ERR_REPLAY', `${gone} before it listened on ${formatHostPort(at)}`);
    if (Date.now() > deadline) throw new KoalaError('KOALA_ERR_REPLAY', `the SUT did not listen on ${formatHostPort(at)} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function replayAll(
  gw: Gateway,
  sessions: readonly Session[],
  opts: { concurrency: number; sutAddr: HostPort; sutMap: Map<string, HostPort> },
): Promise<SessionResult[]> {
  const queue = new PQueue({ concurrency: opts.concurrency });
  const progress = new Progress(sessions.length, process.stderr);
  const results: SessionResult[] = [];
  await Promise.all(
    sessions.map((s) =>
      queue.add(async () => {
        const r = await gw.replaySession(s, { sut: opts.sutMap.get(s.sut) ?? opts.sutAddr });
        results.push(r);
        progress.done(r);
      }),
    ),
  );
  progress.end();
  // Report in the order the sessions were given, whatever order they finished in.
  const order = new Map(sessions.map((s, i) => [s.id, i]));
  return results.sort((a, b) => (order.get(a.sessionId) ?? 0) - (order.get(b.sessionId) ?? 0));
}

/** A bar redrawn in place on a terminal; one plain line per session otherwise (logs, CI). */
class Progress {
  private n = 0;
  private failed = 0;

  constructor(private readonly total: number, private readonly out: NodeJS.WriteStream) {}

  done(r: SessionResult): void {
    this.n++;
    if (!r.verdict.pass) this.failed++;
    if (this.out.isTTY) {
      const width = 30;
      const filled = Math.round((this.n / this.total) * width);
      this.out.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.n}/${this.total} failed=${this.failed}`);
    } else {
      this.out.write(`[${this.n}/${this.total}] ${r.verdict.pass ? 'PASS' : 'FAIL'} ${r.sessionId} (${r.sut}, ${r.durationMs} ms)\n`);
    }
  }

  end(): void {
    if (this.out.isTTY && this.n > 0) this.out.write('\n');
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** SIGTERM/SIGINT during a run close the gateway (pending replays then fail fast); returns the undo. */
function onSignals(fn: () => void): () => void {
  const handler = (): void => fn();
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}
