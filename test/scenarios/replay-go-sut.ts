/**
 * The Go SUT for replay scenarios: built with koala_go plus mode tags (one binary records and
 * replays) and, for changed builds, a tag of test/fixtures/go-sut/change_*.go.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goFlags } from '../../src/cli/go-build.js';
import { GO_SUT_DIR, startGoSut } from '../helpers/go-sut.js';
import type { Downstreams, Sut } from '../helpers/sut.js';
import type { ReplayGateway } from './replay-helpers.js';

/** Record and replay in one binary. */
export const REPLAY_TAGS = ['koala_recorder', 'koala_replayer'];

/** Builds the Go SUT with koala_go plus `tags` into a temp dir; cleanup() removes it. */
export async function buildGoSutWith(tags: string[]): Promise<{ bin: string; cleanup(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'koala-gosut-rr-'));
  const bin = join(dir, 'go-sut');
  const flags = await goFlags({ cwd: GO_SUT_DIR, tags });
  const r = spawnSync('go', ['build', ...flags.args, '-o', bin, '.'], {
    cwd: GO_SUT_DIR,
    encoding: 'utf8',
    timeout: 600_000,
    // The overlay is made for the Go on PATH: never let go.mod switch toolchains.
    env: { ...process.env, GOTOOLCHAIN: 'local' },
  });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`go build ${flags.args.join(' ')} failed: ${r.stderr}${r.stdout}`);
  }
  return { bin, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Starts the Go SUT with its agent in replay mode against `rg` (gRPC address and outbound mock). */
export function startGoReplaySut(bin: string, name: string, rg: ReplayGateway, downstreams: Downstreams): Promise<Sut> {
  return startGoSut(bin, {
    name,
    gatewayAddr: rg.gateway.agentGrpcAddr,
    downstreams,
    env: { KOALA_MODE: 'replay', KOALA_OUTBOUND_ADDR: rg.outboundAddr },
  });
}
