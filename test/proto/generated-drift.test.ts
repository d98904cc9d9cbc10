import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const repo = new URL('../..', import.meta.url).pathname;

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out.sort();
}

// Generated code is committed so users need no generator; this guards that proto/ and the
// committed output never drift apart.
describe('generated code from proto/', function () {
  this.timeout(300_000);
  let tmp: string;

  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'koala-proto-'));
    const r = spawnSync(process.execPath, [join(repo, 'proto', 'generate.mjs'), '--root', tmp], {
      encoding: 'utf8',
    });
    expect(r.status, `proto/generate.mjs failed:\n${r.stdout}\n${r.stderr}`).to.equal(0);
  });

  after(() => rmSync(tmp, { recursive: true, force: true }));

  for (const dir of ['src/generated', 'go-hooks/internal/pb']) {
    it(`${dir} matches a fresh generation`, () => {
      const committed = listFiles(join(repo, dir)).map((f) => relative(join(repo, dir), f));
      const fresh = listFiles(join(tmp, dir)).map((f) => relative(join(tmp, dir), f));
      expect(fresh, `files generated into ${dir}`).to.deep.equal(committed);
      expect(fresh.length, `nothing generated into ${dir}`).to.be.greaterThan(0);
      for (const f of fresh) {
        const a = readFileSync(join(repo, dir, f), 'utf8');
        const b = readFileSync(join(tmp, dir, f), 'utf8');
        expect(a, `${dir}/${f} differs from a fresh generation: run npm run proto`).to.equal(b);
      }
    });
  }
});
