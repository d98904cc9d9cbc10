/**
 * Runs the koala command from source (node --import tsx src/cli/main.ts), no build step, for the
 * CLI and scenario tests.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
// Absolute, so the child finds tsx whatever its cwd.
const TSX = import.meta.resolve('tsx');

/** The command line that runs koala: [executable, ...args]. Append koala's own arguments. */
export function koalaCommand(): [string, ...string[]] {
  return [process.execPath, '--import', TSX, MAIN];
}

export function spawnKoala(args: string[], opts: SpawnOptions = {}): ChildProcess {
  const [exe, ...pre] = koalaCommand();
  return spawn(exe, [...pre, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

export interface KoalaResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs koala to completion (killed after timeoutMs) and collects its output. */
export function runKoala(args: string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<KoalaResult> {
  const { timeoutMs = 30_000, ...spawnOpts } = opts;
  const child = spawnKoala(args, spawnOpts);
  return collect(child, timeoutMs);
}

export function collect(child: ChildProcess, timeoutMs = 30_000): Promise<KoalaResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`koala timed out after ${timeoutMs}ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface GatewayReady {
  mode: string;
  store: string;
  agentSocket: string;
  grpc: string;
  line: string;
}

export function parseReadyLine(line: string): GatewayReady | undefined {
  const m = /^koala gateway ready mode=(\S+) store=(\S+) agent-socket=(\S+) grpc=(\S+)$/.exec(line.trim());
  return m ? { mode: m[1]!, store: m[2]!, agentSocket: m[3]!, grpc: m[4]!, line: line.trim() } : undefined;
}

/** Waits for `koala gateway`'s ready line; rejects if it exits or times out first (with its stderr). */
export function waitForReady(child: ChildProcess, timeoutMs = 20_000): Promise<GatewayReady> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const onErr = (d: Buffer) => (err += d.toString());
    const onOut = (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      const ready = parseReadyLine(out.slice(0, nl));
      done();
      if (ready) resolve(ready);
      else reject(new Error(`unexpected first stdout line from koala gateway: ${out.slice(0, nl)}`));
    };
    const onExit = (code: number | null) => {
      done();
      reject(new Error(`koala gateway exited (${code}) before ready\n${err}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`koala gateway not ready after ${timeoutMs}ms\n${err}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onOut);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
    };
    child.stdout?.on('data', onOut);
    child.stderr?.on('data', onErr);
    child.once('exit', onExit);
  });
}
