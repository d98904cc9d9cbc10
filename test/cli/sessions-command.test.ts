import { expect } from 'chai';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressFamily, AgentKind } from '../../src/generated/koala/v1/agent.pb.js';
import { Session, SessionEndReason, Transport } from '../../src/generated/koala/v1/session.pb.js';
import { decodeSessionLine, encodeSessionLine } from '../../src/store/session-codec.js';
import { runKoala } from '../helpers/koala-cli.js';

const addr = (ip: number[], port: number) => ({ family: AddressFamily.ADDRESS_FAMILY_INET, ip: Buffer.from(ip), port, path: '' });

function session(id: string, sut: string, extra: Partial<Session> = {}): Session {
  return Session.fromPartial({
    id, sut, pid: 100, agent: AgentKind.AGENT_KIND_C_SHIM, vtid: 7n, hostname: 'h',
    startedNs: 1_700_000_000_000_000_000n, endedNs: 1_700_000_000_500_000_000n,
    endReason: SessionEndReason.SESSION_END_REASON_INBOUND_CLOSED,
    inbound: {
      connId: 1n, peer: addr([127, 0, 0, 1], 50000), local: addr([127, 0, 0, 1], 8080),
      request: Buffer.from('GET /orders/1 HTTP/1.1\r\nHost: x\r\n\r\n'), requestLen: 35n,
      response: Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'), responseLen: 40n,
    },
    talks: [{
      index: 0, connId: 2n, transport: Transport.TRANSPORT_TCP, peer: addr([10, 0, 0, 5], 3306),
      request: Buffer.from([0x03, 0x00, 0x00, 0x00, 0x03, 0x53, 0x45, 0x4c, 0xff]), requestLen: 9n,
      response: Buffer.from('+PONG\r\n'), responseLen: 7n,
    }],
    completeness: {},
    ...extra,
  } as never);
}

describe('koala sessions', () => {
  let dir: string;
  let store: string;
  const a = session('s-aaa', 'orders');
  const b = session('s-bbb', 'billing', { completeness: { droppedEvents: 3n, truncatedBytes: 10n, seqGaps: 0n, notes: ['agent gone'] } });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'koala-cli-sess-'));
    store = join(dir, 'store');
    await mkdir(store);
    await writeFile(join(store, 'sessions-0001.jsonl'), `${encodeSessionLine(a)}\n{"this is": not json\n`);
    await writeFile(join(store, 'sessions-0002.jsonl'), `${encodeSessionLine(b)}\n`);
  });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('lists one line per session and reports the malformed line on stderr', async () => {
    const r = await runKoala(['sessions', 'list', store]);
    expect(r.code, r.stderr).to.equal(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).to.have.length(2);
    expect(lines[0]).to.match(/^s-aaa {2}orders {2}2023-11-14T22:13:20\.000Z {2}INBOUND_CLOSED {2}"GET \/orders\/1 HTTP\/1\.1" {2}"HTTP\/1\.1 200 OK" {2}talks=1 {2}complete$/);
    expect(lines[1]).to.match(/^s-bbb {2}billing .* dropped=3,truncated=10B,notes=1$/);
    expect(r.stderr).to.contain(`${join(store, 'sessions-0001.jsonl')}:2: `);
  });

  it('filters by --sut and prints the store encoding with --json', async () => {
    const r = await runKoala(['sessions', 'list', store, '--sut', 'billing', '--json']);
    expect(r.code).to.equal(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).to.have.length(1);
    expect(decodeSessionLine(lines[0]!)).to.deep.equal(b);
  });

  it('shows one session readably: text when printable, hex dump otherwise', async () => {
    const r = await runKoala(['sessions', 'show', 's-aaa', store]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('session s-aaa');
    expect(r.stdout).to.contain('inbound from 127.0.0.1:50000 to 127.0.0.1:8080');
    expect(r.stdout).to.contain('| GET /orders/1 HTTP/1.1');
    expect(r.stdout).to.contain('talk #0 → 10.0.0.5:3306');
    expect(r.stdout).to.contain('00000000  03 00 00 00 03 53 45 4c ff');
    expect(r.stdout).to.contain('| +PONG');
    expect(r.stdout).to.contain('completeness: complete');
    const json = await runKoala(['sessions', 'show', 's-bbb', join(store, 'sessions-0002.jsonl'), '--json']);
    expect(decodeSessionLine(json.stdout.trim())).to.deep.equal(b);
  });

  it('exits non-zero when nothing can be read or the id is unknown', async () => {
    const bad = join(dir, 'bad.jsonl');
    await appendFile(bad, 'garbage\n{}\n');
    const r = await runKoala(['sessions', 'list', bad]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain(`${bad}:1: `);
    expect(r.stderr).to.contain(`${bad}:2: `);
    const missing = await runKoala(['sessions', 'list', join(dir, 'nope')]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain('nope');
    const unknown = await runKoala(['sessions', 'show', 's-zzz', store]);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.match(/session s-zzz not found/);
    expect(unknown.stderr).to.contain(`${join(store, 'sessions-0001.jsonl')}:2: `);
    const usage = await runKoala(['sessions', 'show']);
    expect(usage.code).to.equal(2);
    expect(usage.stderr).to.match(/missing the session ID/);
  });
});
