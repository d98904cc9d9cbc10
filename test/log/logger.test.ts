import { expect } from 'chai';
import diagnostics_channel from 'node:diagnostics_channel';
import { mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHANNEL_NAMES, channels, publish } from '../../src/log/channels.js';
import { Logger } from '../../src/log/logger.js';
import { RotatingFileDestination, hourStamp } from '../../src/log/rotating-file.js';

function memory(): { lines: string[]; destination: { write(l: string): void; close(): void } } {
  const lines: string[] = [];
  return { lines, destination: { write: (l) => lines.push(l), close() {} } };
}

describe('Logger', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'koala-log-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('writes level, component, message and fields; drops lower levels without formatting', () => {
    const m = memory();
    const log = Logger.create({ level: 'WARN', destination: m.destination, now: () => Date.UTC(2024, 0, 2, 3, 4, 5) }).child('ingest');
    let formatted = 0;
    log.info('hidden', () => { formatted++; return { a: 1 }; });
    log.warn('dropping connection', () => { formatted++; return { pid: 42, reason: 'bad frame', n: 5n }; });
    expect(formatted).to.equal(1);
    expect(m.lines).to.deep.equal(['2024-01-02T03:04:05.000Z WARN  ingest: dropping connection pid=42 reason="bad frame" n=5\n']);
    expect(log.enabled('ERROR')).to.equal(true);
    expect(log.enabled('DEBUG')).to.equal(false);
  });

  it('rotates the file hourly to <path>.<yyyymmddhh>', async () => {
    let now = Date.UTC(2024, 4, 6, 7, 59, 0);
    const path = join(dir, 'logs', 'koala.log');
    const log = Logger.create({ level: 'INFO', destination: new RotatingFileDestination(path, () => now) });
    log.info('first hour');
    now += 2 * 60_000;
    log.info('second hour');
    log.close();
    expect((await readdir(join(dir, 'logs'))).sort()).to.deep.equal(['koala.log', 'koala.log.2024050607']);
    expect(await readFile(join(dir, 'logs', 'koala.log.2024050607'), 'utf8')).to.contain('first hour');
    const current = await readFile(path, 'utf8');
    expect(current).to.contain('second hour');
    expect(current).not.to.contain('first hour');
  });

  it('rotates a file left from an earlier hour before appending', async () => {
    const path = join(dir, 'old.log');
    await writeFile(path, 'old line\n');
    const then = new Date(Date.UTC(2023, 11, 31, 23, 30));
    await utimes(path, then, then);
    const d = new RotatingFileDestination(path, () => Date.UTC(2024, 0, 1, 0, 10));
    d.write('new line\n');
    d.close();
    expect(await readFile(`${path}.${hourStamp(then.getTime())}`, 'utf8')).to.equal('old line\n');
    expect(await readFile(path, 'utf8')).to.equal('new line\n');
  });

  it('drops lines while the log directory is gone and resumes when it comes back', async () => {
    let now = Date.UTC(2024, 4, 6, 7, 59, 0);
    const logs = join(dir, 'logs');
    const path = join(logs, 'koala.log');
    const d = new RotatingFileDestination(path, () => now);
    await rm(logs, { recursive: true });
    expect(() => d.write('lost at open\n')).not.to.throw();
    await mkdir(logs);
    d.write('after open retry\n');
    expect(await readFile(path, 'utf8')).to.equal('after open retry\n');
    await rm(logs, { recursive: true });
    now += 2 * 60_000;
    expect(() => d.write('lost at rotation\n')).not.to.throw();
    await mkdir(logs);
    d.write('after rotation retry\n');
    expect(() => d.close()).not.to.throw();
    expect(await readdir(logs)).to.deep.equal(['koala.log']);
    expect(await readFile(path, 'utf8')).to.equal('after rotation retry\n');
  });

  it('publishes on diagnostics channels only to subscribers', () => {
    const got: unknown[] = [];
    const fn = (m: unknown) => got.push(m);
    diagnostics_channel.subscribe(CHANNEL_NAMES.agentDisconnect, fn);
    try {
      publish(channels.agentDisconnect, { linkId: 3, transport: 'unix', reason: 'gone' });
    } finally {
      diagnostics_channel.unsubscribe(CHANNEL_NAMES.agentDisconnect, fn);
    }
    publish(channels.agentDisconnect, { linkId: 4, transport: 'unix', reason: 'unseen' });
    expect(got).to.deep.equal([{ linkId: 3, transport: 'unix', reason: 'gone' }]);
  });
});
