import { expect } from 'chai';
import { mkdtemp, readdir, readFile, rm, stat, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonlSessionStore } from '../../src/store/jsonl-session-store.js';
import { decodeSessionLine, encodeSessionLine } from '../../src/store/session-codec.js';
import type { KoalaError } from '../../src/errors.js';
import { sampleSession } from './sample-session.js';

describe('JsonlSessionStore', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'koala-store-'));
  });
  afterEach(async () => {
    await chmod(root, 0o700).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  });

  it('writes one line per session, in order, each ending with a newline', async () => {
    const store = await JsonlSessionStore.open(join(root, 'rec'));
    for (let i = 0; i < 50; i++) store.append(sampleSession({ id: `s${i}` }));
    await store.close();
    const content = await readFile(store.path, 'utf8');
    expect(content.endsWith('\n')).to.equal(true);
    const lines = content.split('\n').slice(0, -1);
    expect(lines.map((l) => decodeSessionLine(l).id)).to.deep.equal(Array.from({ length: 50 }, (_, i) => `s${i}`));
  });

  it('lets sessions arriving close together share one write, and writes a lone one within coalesceMs', async () => {
    const store = await JsonlSessionStore.open(root, { coalesceMs: 20 });
    for (let i = 0; i < 40; i++) store.append(sampleSession({ id: `s${i}` }));
    await store.flush();
    expect(store.stats()).to.include({ sessionsWritten: 40, writes: 1 });

    store.append(sampleSession({ id: 'lone' }));
    const began = Date.now();
    while (store.stats().sessionsWritten < 41 && Date.now() - began < 2000) await new Promise((r) => setTimeout(r, 5));
    expect(store.stats().sessionsWritten, 'the lone session is written without a flush').to.equal(41);
    await store.close();
    const ids = (await readFile(store.path, 'utf8')).split('\n').slice(0, -1).map((l) => decodeSessionLine(l).id);
    expect(ids).to.have.length(41);
    expect(ids[40]).to.equal('lone');
  });

  it('writes each session at once with coalesceMs 0', async () => {
    const store = await JsonlSessionStore.open(root, { coalesceMs: 0 });
    store.append(sampleSession({ id: 'a' }));
    await new Promise((r) => setTimeout(r, 50));
    store.append(sampleSession({ id: 'b' }));
    await store.close();
    expect(store.stats()).to.include({ sessionsWritten: 2, writes: 2 });
  });

  it('counts the bytes it holds unwritten, and drained() waits until they are written', async () => {
    const store = await JsonlSessionStore.open(root, { coalesceMs: 60_000 });
    expect(store.queuedBytes).to.equal(0);
    let bytes = 0;
    for (let i = 0; i < 30; i++) {
      store.append(sampleSession({ id: `s${i}` }));
      bytes += Buffer.byteLength(encodeSessionLine(sampleSession({ id: `s${i}` }))) + 1;
    }
    expect(store.queuedBytes, 'nothing written while coalescing').to.equal(bytes);
    await store.drained(0);
    expect(store.queuedBytes).to.equal(0);
    expect(store.stats().sessionsWritten).to.equal(30);
    await store.drained(0); // nothing queued: resolves at once
    await store.close();
  });

  it('names files sessions-<yyyymmdd-hhmmss>-<pid>-<n>.jsonl, a new file per run', async () => {
    const now = () => new Date(Date.UTC(2025, 0, 2, 3, 4, 5));
    const a = await JsonlSessionStore.open(root, { now });
    const b = await JsonlSessionStore.open(root, { now });
    expect(a.path).to.equal(join(root, `sessions-20250102-030405-${process.pid}-0001.jsonl`));
    expect(b.path).to.not.equal(a.path);
    await a.close();
    await b.close();
  });

  it('creates the directory 0700 and files 0600', async () => {
    const dir = join(root, 'private');
    const store = await JsonlSessionStore.open(dir);
    store.append(sampleSession());
    await store.close();
    expect((await stat(dir)).mode & 0o777).to.equal(0o700);
    expect((await stat(store.path)).mode & 0o777).to.equal(0o600);
  });

  it('rotates past rotateBytes, never splitting a line', async () => {
    const line = Buffer.byteLength(encodeSessionLine(sampleSession({ id: 's0' }))) + 1;
    const store = await JsonlSessionStore.open(root, { rotateBytes: line * 3 });
    for (let i = 0; i < 10; i++) store.append(sampleSession({ id: `s${i}` }));
    await store.close();
    const files = (await readdir(root)).sort();
    expect(files).to.have.length(4); // 3 + 3 + 3 + 1 lines
    const ids: string[] = [];
    for (const f of files) {
      const content = await readFile(join(root, f), 'utf8');
      expect(content.endsWith('\n')).to.equal(true);
      expect(Buffer.byteLength(content)).to.be.at.most(line * 3);
      ids.push(...content.split('\n').slice(0, -1).map((l) => decodeSessionLine(l).id));
    }
    expect(ids).to.deep.equal(Array.from({ length: 10 }, (_, i) => `s${i}`));
    expect(store.stats()).to.include({ sessionsWritten: 10, files: files.length });
  });

  it('writes lines of every size exactly, across write buffers and past their size', async () => {
    const store = await JsonlSessionStore.open(root, { coalesceMs: 0 });
    const sizes = [10, 100_000, 200_000, 10, 300_000, 50, 600_000, 150_000, 150_000, 10];
    const expected: string[] = [];
    for (const [i, n] of sizes.entries()) {
      const s = sampleSession({ id: `big${i}` });
      s.talks[0]!.request = Buffer.alloc(n, 0x61 + i);
      store.append(s);
      expected.push(encodeSessionLine(s) + '\n');
    }
    await store.close();
    expect(await readFile(store.path, 'utf8')).to.equal(expected.join(''));
    expect(store.stats()).to.include({ sessionsWritten: sizes.length, sessionsDropped: 0 });
  });

  it('reports a write failure through onError, never as an unhandled rejection', async () => {
    const errors: KoalaError[] = [];
    const store = await JsonlSessionStore.open(root, { onError: (e) => errors.push(e) });
    // Closing the handle under the store makes the next write fail.
    await (store as unknown as { files: { fh: { close(): Promise<void> } } }).files.fh.close();
    store.append(sampleSession());
    await store.flush();
    store.append(sampleSession({ id: 'after' }));
    await store.close();
    expect(errors.length).to.be.greaterThan(0);
    expect(errors[0]!.code).to.equal('KOALA_ERR_STORE');
    expect(store.stats().sessionsDropped).to.equal(2);
  });

  it('fails to open on a path that is a file, with KOALA_ERR_STORE', async () => {
    const store = await JsonlSessionStore.open(root);
    await store.close();
    let caught: unknown;
    await JsonlSessionStore.open(store.path).catch((e: unknown) => (caught = e));
    expect((caught as KoalaError).code).to.equal('KOALA_ERR_STORE');
  });
});
