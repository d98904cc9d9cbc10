/**
 * Runs the Go test suite of go-hooks (without the koala_go tag, then with it and the overlay)
 * so that `npm test` covers the Go side. The first tagged -race run compiles the patched std
 * with the race detector; later runs hit the Go build cache.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../src/cli/package-root.js';

const hooksDir = join(packageRoot(), 'go-hooks');
const env = { ...process.env, GOFLAGS: '', GOTOOLCHAIN: 'local' };

function go(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('go', args, { cwd: hooksDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

async function expectGo(args: string[]): Promise<string> {
  const r = await go(args);
  expect(r.code, `go ${args.join(' ')}\n${r.output}`).to.equal(0);
  return r.output;
}

describe('go-hooks Go tests', function () {
  this.timeout(900_000);
  let overlay = '';

  before(async () => {
    overlay = (await expectGo(['run', './cmd/koala-overlay'])).trim().split('\n').pop() ?? '';
  });

  it('go vet ./... without the tag', () => expectGo(['vet', './...']));
  it('go test -race ./... without the tag (no-op API, no events, tag without overlay fails)', () =>
    expectGo(['test', '-race', '-count=1', './...']));
  it('go vet ./... with -tags koala_go and the overlay', () => expectGo(['vet', '-tags', 'koala_go', '-overlay', overlay, './...']));
  it('go test -race ./... with -tags koala_go and the overlay (recorder-only build)', () =>
    expectGo(['test', '-race', '-count=1', '-vet=off', '-tags', 'koala_go', '-overlay', overlay, './...']));
  it('go test ./... with -tags koala_go and the overlay, without -race (the agent works on the system stack)', () =>
    expectGo(['test', '-count=1', '-vet=off', '-tags', 'koala_go', '-overlay', overlay, './...']));
  it('go test -race with -tags koala_go,koala_recorder,koala_replayer (replay redirect)', () =>
    expectGo(['test', '-race', '-count=1', '-vet=off', '-tags', 'koala_go,koala_recorder,koala_replayer', '-overlay', overlay, './internal/hooks/']));
});
