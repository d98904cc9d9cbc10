/** Child processes for the benchmarks: run to completion, or keep running until stopped. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface Done {
  code: number | null;
  stdout: string;
  stderr: string;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** Runs a program to its end (SIGKILL after timeoutMs) and collects its output. */
export function run(cmd: string, args: readonly string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<Done> {
  const { timeoutMs = 120_000, ...so } = opts;
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...so });
  live.add(p);
  let stdout = '';
  let stderr = '';
  p.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  p.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('error', (e) => {
      clearTimeout(timer);
      live.delete(p);
      reject(e);
    });
    p.once('close', (code) => {
      clearTimeout(timer);
      live.delete(p);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Server {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** The first stdout line matching the pattern given to startServer, as matched. */
  readonly ready: RegExpMatchArray;
  stderr(): string;
  /** SIGTERM, SIGKILL after graceMs; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts a long-running program and waits for a stdout line matching `readyLine`. */
export function startServer(cmd: string, args: readonly string[], readyLine: RegExp, opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<Server> {
  const { timeoutMs = 30_000, ...so } = opts;
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...so });
  live.add(p);
  let out = '';
  let err = '';
  p.stderr?.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-20_000)));
  const exited = new Promise<void>((r) => p.once('exit', () => (live.delete(p), r())));
  const stop = async (graceMs = 5_000): Promise<void> => {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    }
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => void stop(0).then(() => reject(new Error(`${cmd}: not ready after ${timeoutMs} ms\n${err}`))), timeoutMs);
    const onOut = (d: string): void => {
      out += d;
      for (const line of out.split('\n')) {
        const m = readyLine.exec(line);
        if (m) {
          clearTimeout(timer);
          p.stdout?.off('data', onOut);
          p.stdout?.resume();
          resolve({ proc: p, pid: p.pid ?? -1, ready: m, stderr: () => err, stop });
          return;
        }
      }
    };
    p.stdout?.setEncoding('utf8').on('data', onOut);
    p.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited (${code}) before ready\n${err}`));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
