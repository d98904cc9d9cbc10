/**
 * `koala go build` / `koala go flags`: build a Go program with the koala_go tag and the overlay
 * that patches the standard library of the Go on PATH. Owned by the Go hooks work; the CLI
 * dispatches here.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { KoalaError } from '../errors.js';
import { packageRoot } from './package-root.js';

export interface GoBuildFlags {
  /** e.g. ["-tags", "koala_go,koala_recorder", "-overlay", "/abs/overlay.json"] */
  args: string[];
  overlayPath: string;
  goVersion: string;
}

export interface GoBuildOptions {
  /** The user's module directory: the overlay is made for the Go that `go` runs there. */
  cwd?: string;
  /** Extra build tags, e.g. koala_recorder or koala_replayer. */
  tags?: string[];
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, argv: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** The generator only needs the go command's own view of GOROOT: no user GOFLAGS. */
function generatorEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GOFLAGS: '' };
}

let generator: Promise<string> | undefined;

/** Builds go-hooks/cmd/koala-overlay into go-hooks/.bin once per process (the Go cache makes it cheap). */
function overlayGenerator(): Promise<string> {
  generator ??= (async () => {
    const hooksDir = join(packageRoot(), 'go-hooks');
    const bin = join(hooksDir, '.bin', 'koala-overlay');
    mkdirSync(dirname(bin), { recursive: true });
    const r = await run('go', ['build', '-o', bin, './cmd/koala-overlay'], hooksDir, generatorEnv()).catch((err: unknown) => {
      throw new KoalaError('KOALA_ERR_GO_BUILD', `cannot run go: ${(err as Error).message}`, { cause: err });
    });
    if (r.code !== 0) throw new KoalaError('KOALA_ERR_GO_BUILD', `building koala-overlay failed:\n${r.stderr}${r.stdout}`);
    return bin;
  })();
  generator.catch(() => (generator = undefined));
  return generator;
}

/** Generates (or reuses) the overlay for the Go used in opts.cwd and returns the build flags. */
export async function goFlags(opts: GoBuildOptions = {}): Promise<GoBuildFlags> {
  const cwd = opts.cwd ?? process.cwd();
  const bin = await overlayGenerator();
  const r = await run(bin, [], cwd, generatorEnv());
  const overlayPath = r.stdout.trim();
  if (r.code !== 0 || overlayPath === '') {
    throw new KoalaError('KOALA_ERR_GO_BUILD', `koala-overlay failed in ${cwd}:\n${r.stderr}${r.stdout}`);
  }
  // The overlay's directory is named <GOVERSION>-<hash>.
  const dir = basename(dirname(overlayPath));
  const goVersion = dir.slice(0, dir.lastIndexOf('-'));
  const tags = ['koala_go', ...(opts.tags ?? []).filter((t) => t !== '' && t !== 'koala_go')];
  return { args: ['-tags', tags.join(','), '-overlay', overlayPath], overlayPath, goVersion };
}

/** Takes -tags out of argv (go keeps only the last -tags flag, so they must be merged). */
export function splitTags(argv: string[]): { tags: string[]; rest: string[] } {
  const tags: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const m = /^--?tags(=(.*))?$/.exec(a);
    if (!m) {
      rest.push(a);
      continue;
    }
    const value = m[1] !== undefined ? m[2] : argv[++i];
    if (value !== undefined) tags.push(...value.split(/[,\s]+/).filter((t) => t !== ''));
  }
  return { tags, rest };
}

/** Runs `go build` with the koala flags plus argv in opts.cwd; resolves to go's exit code. */
export async function goBuild(argv: string[], opts: GoBuildOptions = {}): Promise<number> {
  const cwd = opts.cwd ?? process.cwd();
  const { tags, rest } = splitTags(argv);
  const flags = await goFlags({ cwd, tags: [...(opts.tags ?? []), ...tags] });
  return new Promise((resolve, reject) => {
    const child = spawn('go', ['build', ...flags.args, ...rest], { cwd, stdio: 'inherit' });
    child.on('error', (err) => reject(new KoalaError('KOALA_ERR_GO_BUILD', `cannot run go: ${err.message}`, { cause: err })));
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
