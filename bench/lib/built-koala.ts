/**
 * The koala command as users run it: the compiled JavaScript of `package.json`'s bin
 * (dist/src/cli/main.js), built fresh from a checkout's sources. Run from source under tsx, the
 * gateway carries tsx's loader thread and a larger main heap: fed the same traffic its helper
 * threads spent ~3 µs more per session (bench/RESULTS-overhead.md, Session 8). Small, but not
 * what users run, so the benchmarks measure the built command unless asked.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const built = new Map<string, string>();

/** Builds `checkout` (default: this repository) with its own tsc once per process; returns its main.js. */
export function builtKoalaMain(checkout: string = REPO): string {
  const done = built.get(checkout);
  if (done !== undefined) return done;
  const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(checkout, 'tsconfig.json')], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`building ${checkout} failed:\n${r.stdout}${r.stderr}`);
  const main = join(checkout, 'dist', 'src', 'cli', 'main.js');
  built.set(checkout, main);
  return main;
}
