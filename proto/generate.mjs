// Regenerates the code made from proto/: TypeScript (ts-proto) into src/generated/, and Go
// (protoc-gen-go, protoc-gen-go-grpc, versions pinned by go-hooks/go.mod) into go-hooks/internal/pb/.
// Only npm packages (buf, ts-proto) and the Go module proxy are needed, so a fresh machine can
// regenerate. `--root DIR` writes under DIR instead of the checkout (the drift test uses it).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const rootIdx = args.indexOf('--root');
const outRoot = rootIdx >= 0 ? resolve(args[rootIdx + 1]) : repo;
const skipGo = args.includes('--no-go');

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`[koala] proto generation failed: ${cmd} ${argv.join(' ')}`);
    process.exit(r.status ?? 1);
  }
}

const bin = join(repo, 'node_modules', '.bin');
const tsOut = join(outRoot, 'src', 'generated');
rmSync(tsOut, { recursive: true, force: true });
mkdirSync(tsOut, { recursive: true });

const plugins = [
  {
    local: join(bin, 'protoc-gen-ts_proto'),
    out: tsOut,
    opt: [
      'esModuleInterop=true',
      'importSuffix=.js',
      'env=node',
      'forceLong=bigint',
      'outputServices=grpc-js',
      'useOptionals=none',
      'oneof=unions-value',
      'fileSuffix=.pb',
    ],
  },
];

const goMod = join(repo, 'go-hooks', 'go.mod');
if (!skipGo && existsSync(goMod)) {
  const goBin = join(repo, 'go-hooks', '.bin');
  mkdirSync(goBin, { recursive: true });
  const goCwd = join(repo, 'go-hooks');
  run('go', ['build', '-o', join(goBin, 'protoc-gen-go'), 'google.golang.org/protobuf/cmd/protoc-gen-go'], { cwd: goCwd });
  run('go', ['build', '-o', join(goBin, 'protoc-gen-go-grpc'), 'google.golang.org/grpc/cmd/protoc-gen-go-grpc'], { cwd: goCwd });
  const goOut = join(outRoot, 'go-hooks');
  rmSync(join(goOut, 'internal', 'pb'), { recursive: true, force: true });
  mkdirSync(goOut, { recursive: true });
  const mod = 'module=github.com/koala-replay/koala/go-hooks';
  plugins.push({ local: join(goBin, 'protoc-gen-go'), out: goOut, opt: [mod] });
  plugins.push({ local: join(goBin, 'protoc-gen-go-grpc'), out: goOut, opt: [mod] });
}

const template = JSON.stringify({ version: 'v2', plugins });
run(join(bin, 'buf'), ['generate', '--template', template], { cwd: join(repo, 'proto') });
