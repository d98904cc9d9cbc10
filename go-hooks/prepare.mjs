// Run at `npm install`: fetch the Go modules go-hooks and the Go test SUT need, so builds and tests
// later need no network. Go is only required for recording Go services, so its absence is a note,
// not a failure.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const probe = spawnSync('go', ['version'], { encoding: 'utf8' });
if (probe.status !== 0) {
  console.warn('[koala] go not found: skipping Go module download (needed only for Go services)');
  process.exit(0);
}
for (const dir of ['go-hooks', 'test/fixtures/go-sut']) {
  const r = spawnSync('go', ['mod', 'download'], { cwd: join(repo, dir), stdio: 'inherit', env: { ...process.env, GOFLAGS: '' } });
  if (r.status !== 0) {
    console.error(`[koala] go mod download failed in ${dir}`);
    process.exit(r.status ?? 1);
  }
}
