import { expect } from 'chai';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentHello } from '../../src/generated/koala/v1/agent.pb.js';
import { isKoalaError } from '../../src/errors.js';
import { RecordKind, SPOOL_MAGIC } from '../../src/spool/spool-format.js';
import { findSpools, readSpool, type Spool } from '../../src/spool/spool-reader.js';
import { SpoolWriter } from '../../src/spool/spool-writer.js';
import { hello } from '../ingest/fake-sink.js';

interface Seen {
  kind: number;
  link: number;
  at: number;
  payload: Buffer;
}

async function readAll(spool: Spool): Promise<{ records: Seen[]; torn: number; error: unknown }> {
  const records: Seen[] = [];
  let torn = 0;
  try {
    for await (const r of readSpool(spool, (_f, bytes) => (torn += bytes))) records.push({ kind: r.kind, link: r.link, at: r.at, payload: Buffer.from(r.payload) });
  } catch (err) {
    return { records, torn, error: err };
  }
  return { records, torn, error: undefined };
}

const helloOf = (pid: number): AgentHello => {
  const m = hello(pid, 'web').body;
  if (m?.$case !== 'hello') throw new Error('hello() builds a hello');
  return m.value;
};

describe('spool writer and reader', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'koala-spool-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads back every record in order, payloads byte for byte, a record bigger than a write buffer included', async () => {
    const w = await SpoolWriter.open(dir);
    const small = Buffer.from('batch-one');
    const big = Buffer.alloc(700 * 1024, 0xab);
    big.write('start', 0);
    w.hello(7, helloOf(4242), 1000.5);
    w.batch(7, small, 1001);
    // The writer copies: the caller reuses its buffer at once.
    small.fill(0);
    w.batch(7, big, 1002);
    w.tick(1003);
    w.gone(7, 1004);
    await w.close(1005);
    expect(w.stats()).to.include({ records: 6, batches: 2, recordsDropped: 0, files: 1 });
    const spools = await findSpools([dir]);
    expect(spools).to.have.length(1);
    const { records, torn, error } = await readAll(spools[0]!);
    expect(error).to.equal(undefined);
    expect(torn).to.equal(0);
    expect(records.map((r) => [r.kind, r.link, r.at])).to.deep.equal([
      [RecordKind.Hello, 7, 1000.5], [RecordKind.Batch, 7, 1001], [RecordKind.Batch, 7, 1002],
      [RecordKind.Tick, 0, 1003], [RecordKind.Gone, 7, 1004], [RecordKind.End, 0, 1005],
    ]);
    expect(AgentHello.decode(records[0]!.payload).pid).to.equal(4242);
    expect(records[1]!.payload.toString()).to.equal('batch-one');
    expect(records[2]!.payload.equals(big)).to.equal(true);
    const file = (await readFile(spools[0]!.files[0]!)).subarray(0, SPOOL_MAGIC.length);
    expect(file.toString('latin1')).to.equal('KOALA-SPOOL-1\n');
  });

  it('rotates into numbered files that read back as one spool', async () => {
    const w = await SpoolWriter.open(dir, { rotateBytes: 4096 });
    const frames = Array.from({ length: 200 }, (_, i) => Buffer.from(`frame ${i} `.repeat(5)));
    for (const [i, f] of frames.entries()) w.batch(1, f, i);
    await w.close(999);
    const names = (await readdir(dir)).sort();
    expect(names.length).to.be.greaterThan(3);
    expect(names.every((n) => /^spool-\d{8}-\d{6}-\d+-\d{4}\.kspool$/.test(n))).to.equal(true);
    expect(w.stats().files).to.equal(names.length);
    const spools = await findSpools([dir]);
    expect(spools).to.have.length(1);
    const { records, error } = await readAll(spools[0]!);
    expect(error).to.equal(undefined);
    expect(records.filter((r) => r.kind === RecordKind.Batch).map((r) => r.payload.toString())).to.deep.equal(frames.map(String));
    expect(records.at(-1)!.kind).to.equal(RecordKind.End);
  });

  it('yields what is whole of a file cut inside a record, and reports the cut', async () => {
    const w = await SpoolWriter.open(dir);
    w.batch(1, Buffer.from('whole'), 1);
    w.batch(1, Buffer.from('cut short here'), 2);
    await w.flush();
    const path = w.path;
    const { size } = await stat(path);
    await truncate(path, size - 4);
    const { records, torn, error } = await readAll((await findSpools([path]))[0]!);
    expect(error).to.equal(undefined);
    expect(records.map((r) => r.payload.toString())).to.deep.equal(['whole']);
    expect(torn).to.equal(20 + 'cut short here'.length - 4);
  });

  it('ends a damaged file with KOALA_ERR_SPOOL_CORRUPT after the records before the damage', async () => {
    const w = await SpoolWriter.open(dir);
    w.batch(1, Buffer.from('before'), 1);
    await w.flush();
    await appendFile(w.path, Buffer.alloc(40, 0x77));
    const { records, error } = await readAll((await findSpools([w.path]))[0]!);
    expect(records.map((r) => r.payload.toString())).to.deep.equal(['before']);
    expect(isKoalaError(error, 'KOALA_ERR_SPOOL_CORRUPT')).to.equal(true);
    expect((error as Error).message).to.match(/byte 40: unknown record kind/);

    const other = join(dir, 'not-a-spool.kspool');
    await writeFile(other, 'hello world, this is text');
    const r2 = await readAll((await findSpools([other]))[0]!);
    expect(isKoalaError(r2.error, 'KOALA_ERR_SPOOL_CORRUPT')).to.equal(true);
    expect((r2.error as Error).message).to.match(/bad magic/);
  });

  it('counts records given after close as dropped', async () => {
    const w = await SpoolWriter.open(dir);
    await w.close();
    w.batch(1, Buffer.from('late'), 1);
    expect(w.stats()).to.include({ recordsDropped: 1, batches: 0 });
  });
});
