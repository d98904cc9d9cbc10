import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** A child process whose output is kept for assertions and error messages. */
export interface Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or 128 + signal number when killed by a signal). */
  readonly exited: Promise<number>;
  /** Sends `signal` and waits for the exit; SIGKILLs after `graceMs`. Idempotent. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number>;
}

const SIGNALS: Partial<Record<NodeJS.Signals, number>> = { SIGTERM: 15, SIGKILL: 9, SIGINT: 2 };

// A hook that failed before its `after` could stop a server must neither hang the test run nor
// leave the server behind: children do not keep Node alive, and whatever still runs at exit dies.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

function unrefStream(s: unknown): void {
  if (s && typeof (s as { unref?: unknown }).unref === 'function') (s as { unref(): void }).unref();
}

export function spawnChild(cmd: string, args: string[], opts: SpawnOptions = {}): Child {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  live.add(proc);
  proc.unref();
  unrefStream(proc.stdout);
  unrefStream(proc.stderr);
  let out = '';
  let err = '';
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number>((resolve) => {
    proc.once('exit', (code, signal) => {
      live.delete(proc);
      resolve(code ?? 128 + (signal ? (SIGNALS[signal] ?? 0) : 0));
    });
    proc.once('error', (e) => {
      err += String(e);
      resolve(127);
    });
  });
  let stopping: Promise<number> | undefined;
  const child: Child = {
    proc,
    pid: proc.pid ?? -1,
    stdout: () => out,
    stderr: () => err,
    exited,
    stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000) {
      if (stopping) return stopping;
      if (proc.exitCode !== null || proc.signalCode !== null) return (stopping = exited);
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      stopping = exited.finally(() => clearTimeout(timer));
      return stopping;
    },
  };
  return child;
}

/** Resolves with the first stdout line matching `re` (its match), or rejects on exit/timeout. */
export function waitForLine(child: Child, re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      for (const line of child.stdout().split('\n')) {
        const m = line.match(re);
        if (m) {
          done();
          resolve(m);
          return true;
        }
      }
      return false;
    };
    const onData = (): void => void check();
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out waiting for ${re} from pid ${child.pid}; stdout=${child.stdout()} stderr=${child.stderr()}`));
    }, timeoutMs);
    const onExit = (): void => {
      if (check()) return;
      done();
      reject(new Error(`pid ${child.pid} exited before printing ${re}; stdout=${child.stdout()} stderr=${child.stderr()}`));
    };
    const done = (): void => {
      clearTimeout(timer);
      child.proc.stdout?.off('data', onData);
      child.proc.off('close', onExit);
    };
    child.proc.stdout?.on('data', onData);
    child.proc.once('close', onExit);
    check();
  });
}
