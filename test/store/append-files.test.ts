import { expect } from 'chai';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppendFiles, type AppendFilesOptions } from '../../src/store/append-files.js';

describe('AppendFiles', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'koala-append-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const open = (o: Partial<AppendFilesOptions> = {}) =>
    AppendFiles.open({ dir, stem: 'units', ext: '.bin', rotateBytes: 1 << 30, coalesceMs: 5, onError: (e) => expect.fail(e.message), what: 'test directory', ...o });

  /** Appends `text` in place when it fits the target, else hands it over (owned or to copy). */
  const put = (f: AppendFiles, text: string, how: 'place' | 'copy' | 'own' = 'place') => {
    const bytes = Buffer.from(text);
    if (how === 'own') return f.commitOwned(bytes);
    if (how === 'copy') return f.commit(bytes.length, bytes);
    const t = f.target(bytes.length);
    bytes.copy(t.buf, t.off);
    f.commit(bytes.length);
  };

  it('writes units in order however they were given, and small units after a big one share write buffers again', async () => {
    const f = await open();
    put(f, 'a;');
    put(f, 'b;', 'copy');
    put(f, `${'B'.repeat(300 * 1024)};`, 'own');
    for (let i = 0; i < 500; i++) put(f, `${i};`);
    await f.close();
    const text = (await readFile(f.path)).toString();
    expect(text.split(';').slice(0, 2)).to.deep.equal(['a', 'b']);
    expect(text.split(';')[2]).to.have.length(300 * 1024);
    expect(text.split(';').slice(3, -1).map(Number)).to.deep.equal([...Array(500).keys()]);
    const s = f.stats();
    expect(s).to.include({ unitsWritten: 503, unitsDropped: 0, files: 1 });
    // a + b share one buffer, the big unit has its own, the 500 small ones one more.
    expect(s.writes).to.be.at.most(4);
  });

  it('starts every file with the header and rotates between units, never inside one', async () => {
    const f = await open({ header: Buffer.from('HDR\n'), rotateBytes: 64 });
    for (let i = 0; i < 40; i++) put(f, `unit-${String(i).padStart(2, '0')};`);
    await f.close();
    const names = (await readdir(dir)).sort();
    expect(names.length).to.be.greaterThan(5);
    expect(names.every((n) => /^units-\d{4}\.bin$/.test(n))).to.equal(true);
    const all: string[] = [];
    for (const n of names) {
      const text = (await readFile(join(dir, n))).toString();
      expect(text.startsWith('HDR\n')).to.equal(true);
      expect(text.length).to.be.at.most(64 + 9);
      all.push(...text.slice(4).split(';').filter((u) => u !== ''));
    }
    expect(all).to.deep.equal(Array.from({ length: 40 }, (_, i) => `unit-${String(i).padStart(2, '0')}`));
  });
});
