import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shimPath } from '../../src/cli/package-root.js';
import { collect, runKoala, spawnKoala } from '../helpers/koala-cli.js';

/** A CMD that prints the KOALA_* and LD_PRELOAD variables it got, as JSON. */
const PRINT_ENV = `const e = {}; for (const [k, v] of Object.entries(process.env)) if (k.startsWith('KOALA_') || k === 'LD_PRELOAD') e[k] = v; console.log(JSON.stringify(e));`;

describe('koala run', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'koala-cli-run-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  // The shim really is preloaded; with no gateway on that socket it must leave the program alone.
  it('sets LD_PRELOAD, the SUT name, the agent addresses, the mode and the other options', async () => {
    const script = join(dir, 'print-env.cjs');
    await writeFile(script, PRINT_ENV);
    const r = await runKoala(
      ['run', '--sut', 'orders', '--agent-socket', join(dir, 'a.sock'), '--grpc-addr', '127.0.0.1:7777', '--mode', 'record',
        '--', process.execPath, script],
      { env: { ...process.env, LD_PRELOAD: '/opt/other.so', KOALA_BUFFER_SIZE: '1MiB', KOALA_OUTBOUND_BYPASS_ADDR: ':6379', KOALA_LOG_LEVEL: 'debug' } },
    );
    expect(r.code, r.stderr).to.equal(0);
    const env = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, string>;
    expect(env.LD_PRELOAD).to.equal(`${shimPath()}:/opt/other.so`);
    expect(env).to.include({
      KOALA_SUT_NAME: 'orders',
      KOALA_AGENT_SOCKET: join(dir, 'a.sock'),
      KOALA_AGENT_GRPC_ADDR: '127.0.0.1:7777',
      KOALA_MODE: 'record',
      KOALA_BUFFER_SIZE: String(1 << 20),
      KOALA_OUTBOUND_BYPASS_ADDR: ':6379',
      KOALA_LOG_LEVEL: 'DEBUG',
      KOALA_OUTBOUND_ADDR: '127.0.0.1:2516',
    });
  });

  it("exits with the child's exit code", async () => {
    const r = await runKoala(['run', '--sut', 'x', '--agent-socket', join(dir, 'a.sock'), '--', process.execPath, '-e', 'process.exit(7)']);
    expect(r.code).to.equal(7);
  });

  it('forwards SIGTERM to the child', async () => {
    const script = join(dir, 'wait.cjs');
    await writeFile(script, `process.on('SIGTERM', () => { console.log('child got SIGTERM'); process.exit(42); }); console.log('up'); setInterval(() => {}, 1000);`);
    const child = spawnKoala(['run', '--sut', 'x', '--agent-socket', join(dir, 'a.sock'), '--', process.execPath, script]);
    const result = collect(child);
    await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('up')) resolve(); }));
    child.kill('SIGTERM');
    const r = await result;
    expect(r.code).to.equal(42);
    expect(r.stdout).to.contain('child got SIGTERM');
  });

  it('reports usage errors clearly', async () => {
    const noCmd = await runKoala(['run', '--sut', 'x']);
    expect(noCmd.code).to.equal(2);
    expect(noCmd.stderr).to.match(/missing the command to run after --/);
    const missing = await runKoala(['run', '--sut', 'x', '--', join(dir, 'no-such-binary')]);
    expect(missing.code).to.equal(127);
    expect(missing.stderr).to.match(/cannot start .*no-such-binary/);
    const badOpt = await runKoala(['run', '--max-payload', 'huge', '--', 'true']);
    expect(badOpt.code).to.equal(2);
    expect(badOpt.stderr).to.match(/KOALA_MAX_PAYLOAD \/ --max-payload/);
  });
});
