import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goBuild, goFlags, splitTags } from '../../src/cli/go-build.js';
import { packageRoot } from '../../src/cli/package-root.js';

const hooksDir = join(packageRoot(), 'go-hooks');

const program = `package main

import (
	"fmt"

	koala "github.com/koala-replay/koala/go-hooks"
	_ "github.com/koala-replay/koala/go-hooks/auto"
)

func main() {
	owner := make(chan uint64)
	go func() { koala.Delegate(42); go func() { owner <- koala.CurrentOwner() }() }()
	fmt.Printf("enabled=%v inherited=%d\\n", koala.Enabled, <-owner)
}
`;

describe('koala go flags / go build', function () {
  // The first build compiles the patched runtime, net and net/http (cached afterwards).
  this.timeout(600_000);
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'koala-gobuild-'));
    writeFileSync(
      join(dir, 'go.mod'),
      `module tiny\n\ngo 1.26\n\nrequire github.com/koala-replay/koala/go-hooks v0.0.0\n\nreplace github.com/koala-replay/koala/go-hooks => ${hooksDir}\n`,
    );
    copyFileSync(join(hooksDir, 'go.sum'), join(dir, 'go.sum'));
    writeFileSync(join(dir, 'main.go'), program);
    const tidy = spawnSync('go', ['mod', 'tidy'], { cwd: dir, encoding: 'utf8', env: { ...process.env, GOFLAGS: '-mod=mod' } });
    expect(tidy.status, tidy.stderr).to.equal(0);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('returns the koala_go tag, extra tags and an overlay that replaces std files', async () => {
    const flags = await goFlags({ cwd: dir, tags: ['koala_recorder'] });
    expect(flags.args).to.deep.equal(['-tags', 'koala_go,koala_recorder', '-overlay', flags.overlayPath]);
    const goVersion = spawnSync('go', ['env', 'GOVERSION'], { cwd: dir, encoding: 'utf8' }).stdout.trim();
    expect(flags.goVersion).to.equal(goVersion);
    const overlay = JSON.parse(readFileSync(flags.overlayPath, 'utf8')) as { Replace: Record<string, string> };
    const replaced = Object.keys(overlay.Replace);
    expect(replaced.some((p) => p.endsWith('/src/runtime/proc.go'))).to.equal(true);
    expect(replaced.some((p) => p.endsWith('/src/net/fd_posix.go'))).to.equal(true);
    for (const backing of Object.values(overlay.Replace)) expect(existsSync(backing), backing).to.equal(true);
  });

  it('builds a program whose goroutines inherit the delegated owner', async () => {
    const bin = join(dir, 'tiny');
    const code = await goBuild(['-o', bin, '.'], { cwd: dir });
    expect(code).to.equal(0);
    // No gateway is listening: the agent must neither block nor fail the program.
    const r = spawnSync(bin, [], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, KOALA_AGENT_GRPC_ADDR: '127.0.0.1:1' } });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal('enabled=true inherited=42');
  });

  it('passes go build failures through as the exit code', async () => {
    const code = await goBuild(['-o', join(dir, 'never'), './does-not-exist'], { cwd: dir });
    expect(code).to.not.equal(0);
  });

  it('merges -tags given to go build with koala_go', () => {
    expect(splitTags(['-tags', 'a,b', '-o', 'x', '--tags=c', '.'])).to.deep.equal({ tags: ['a', 'b', 'c'], rest: ['-o', 'x', '.'] });
  });
});
