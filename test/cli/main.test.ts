import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { runKoala } from '../helpers/koala-cli.js';

describe('koala (main)', () => {
  it('lists the commands on --help and exits 0', async () => {
    const r = await runKoala(['--help']);
    expect(r.code).to.equal(0);
    for (const c of ['gateway', 'run', 'sessions', 'go', 'config-doc']) expect(r.stdout).to.match(new RegExp(`^  ${c}\\b`, 'm'));
  });

  it('exits 2 on an unknown command or none', async () => {
    const unknown = await runKoala(['recrod']);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.contain('unknown command "recrod"');
    expect((await runKoala([])).code).to.equal(2);
  });

  it('config-doc prints docs/configuration.md', async () => {
    const r = await runKoala(['config-doc']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.equal(await readFile(new URL('../../docs/configuration.md', import.meta.url), 'utf8'));
  });
});
