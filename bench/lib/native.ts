/** Builds the benchmarks' small C programs (bench/c/) into a temp dir with the system cc. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHIM_PATH = join(REPO_ROOT, 'build', 'Release', 'koala_shim.so');
const C_DIR = join(REPO_ROOT, 'bench', 'c');

let dir: string | undefined;

function buildDir(): string {
  if (dir === undefined) {
    const d = mkdtempSync(join(tmpdir(), 'koala-bench-'));
    dir = d;
    process.once('exit', () => rmSync(d, { recursive: true, force: true }));
  }
  return dir;
}

/** Compiles bench/c/<name>.c with -O2 (warnings are errors) and returns the binary's path. */
export function buildProgram(name: string): string {
  const bin = join(buildDir(), name);
  if (existsSync(bin)) return bin;
  const r = spawnSync('cc', ['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', '-pthread', '-o', bin, join(C_DIR, `${name}.c`)], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`cc failed for bench/c/${name}.c: ${r.stderr || r.error?.message}`);
  return bin;
}

export function requireShim(): string {
  if (!existsSync(SHIM_PATH)) throw new Error(`shim not built: ${SHIM_PATH} (run node csrc/build-shim.mjs)`);
  return SHIM_PATH;
}

/** Parses "k=v k=v" output lines into numbers (non-numeric values are dropped). */
export function parseKv(line: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of line.matchAll(/(\w+)=([-\d.]+)/g)) out[m[1] as string] = Number(m[2]);
  return out;
}
