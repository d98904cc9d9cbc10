import { expect } from 'chai';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findSession, readSessions, type SessionRead } from '../../src/store/session-reader.js';
import { encodeSessionLine } from '../../src/store/session-codec.js';
import { JsonlSessionStore } from '../../src/store/jsonl-session-store.js';
import { sampleSession } from './sample-session.js';

async function all(it: AsyncIterable<SessionRead>): Promise<SessionRead[]> {
  const out: SessionRead[] = [];
  for await (const r of it) out.push(r);
  return out;
}

const describeRead = (r: SessionRead) => ('session' in r ? `ok:${r.session.id}@${r.line}` : `err@${r.line}`);

describe('readSessions / findSession', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'koala-read-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads what the store wrote, files of a directory in name order', async () => {
    const a = await JsonlSessionStore.open(root, { now: () => new Date(Date.UTC(2025, 0, 1)) });
    a.append(sampleSession({ id: 'a1' }));
    a.append(sampleSession({ id: 'a2' }));
    await a.close();
    const b = await JsonlSessionStore.open(root, { now: () => new Date(Date.UTC(2025, 0, 2)) });
    b.append(sampleSession({ id: 'b1' }));
    await b.close();
    const got = await all(readSessions([root]));
    expect(got.map(describeRead)).to.deep.equal(['ok:a1@1', 'ok:a2@2', 'ok:b1@1']);
    const first = got[0]!;
    expect('session' in first && first.session).to.deep.equal(sampleSession({ id: 'a1' }));
    expect(first.file).to.equal(a.path);
  });

  it('skips a torn last line (no newline) and reads the rest', async () => {
    const f = join(root, 'x.jsonl');
    const whole = encodeSessionLine(sampleSession({ id: 'whole' }));
    await writeFile(f, `${whole}\n${whole.slice(0, 100)}`);
    expect((await all(readSessions([f]))).map(describeRead)).to.deep.equal(['ok:whole@1']);
    // Even a complete JSON object is torn without its newline: the write was cut short.
    await writeFile(f, `${whole}\n${whole}`);
    expect((await all(readSessions([f]))).map(describeRead)).to.deep.equal(['ok:whole@1']);
  });

  it('reports a garbage line in the middle as an error and goes on', async () => {
    const f = join(root, 'x.jsonl');
    await writeFile(f, `${encodeSessionLine(sampleSession({ id: 'one' }))}\n{"v":1,garbage\n\n${encodeSessionLine(sampleSession({ id: 'two' }))}\n`);
    const got = await all(readSessions([f]));
    expect(got.map(describeRead)).to.deep.equal(['ok:one@1', 'err@2', 'ok:two@4']);
    const err = got[1]!;
    expect('error' in err && err.error.code).to.equal('KOALA_ERR_STORE_CORRUPT_LINE');
    expect(err.file).to.equal(f);
  });

  it('filters by sut and ignores files that are not .jsonl in a directory', async () => {
    await writeFile(join(root, 'a.jsonl'), `${encodeSessionLine(sampleSession({ id: '1', sut: 'a' }))}\n${encodeSessionLine(sampleSession({ id: '2', sut: 'b' }))}\n`);
    await writeFile(join(root, 'notes.txt'), 'not sessions\n');
    expect((await all(readSessions([root], { sut: 'b' }))).map(describeRead)).to.deep.equal(['ok:2@2']);
  });

  it('streams a line split across many read chunks (a 5 MB payload)', async () => {
    const big = sampleSession({ id: 'big' });
    big.inbound!.request = Buffer.alloc(5 * 1024 * 1024, 0x61);
    const f = join(root, 'big.jsonl');
    await writeFile(f, `${encodeSessionLine(big)}\n`);
    await appendFile(f, `${encodeSessionLine(sampleSession({ id: 'next' }))}\n`);
    const got = await all(readSessions([f]));
    expect(got.map(describeRead)).to.deep.equal(['ok:big@1', 'ok:next@2']);
    expect('session' in got[0]! && got[0].session.inbound!.request.length).to.equal(5 * 1024 * 1024);
  });

  it('finds a session by id, or undefined', async () => {
    const f = join(root, 'x.jsonl');
    await writeFile(f, ['a', 'b', 'c'].map((id) => encodeSessionLine(sampleSession({ id }))).join('\n') + '\n');
    const found = await findSession([root], 'b');
    expect(found?.session.id).to.equal('b');
    expect(found?.line).to.equal(2);
    expect(await findSession([root], 'zzz')).to.equal(undefined);
  });
});
