/**
 * Where one process's CPU went, from a `perf record -a -g` file: how many of its samples were in
 * koala's own code (the Go hooks and agent) and in gRPC's, by the frames on their stacks. A share
 * of one process's samples in one window does not move with this VM's speed, which moves every
 * per-request figure between rounds; it misses only what recording costs indirectly (the SUT's own
 * code running slower beside it) and functions the compiler inlined into the SUT's.
 */
import { spawnSync } from 'node:child_process';

export interface SampleSplit {
  /** Samples of the process, kernel time included. */
  samples: number;
  /** Samples with a koala frame (go-hooks packages, the net and runtime hooks) and no gRPC frame. */
  koala: number;
  /** Samples with a gRPC or HTTP/2 frame: the agent's stream to the gateway. */
  grpc: number;
}

const GRPC = /google\.golang\.org\/grpc|golang\.org\/x\/net\/http2/;
// The overlay's hooks: net.koalaIO, net.(*netFD).koalaConnID, runtime.koalaGoexit, runtime.KoalaSystemstack...
const KOALA = /koala-replay\/koala\/go-hooks|\b(?:net|runtime)\.(?:\(\*\w+\)\.)?[kK]oala/;

export function splitSamples(file: string, pid: number): SampleSplit {
  const r = spawnSync('perf', ['script', '-i', file, '--pid', String(pid), '-F', 'pid,ip,sym'], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  if (r.status !== 0) throw new Error(`perf script ${file}: ${r.stderr || r.error?.message}`);
  const out: SampleSplit = { samples: 0, koala: 0, grpc: 0 };
  // One sample per block: a "pid" line, then a frame per line, then an empty line.
  for (const block of r.stdout.split(/\n\s*\n/)) {
    if (block.trim() === '') continue;
    out.samples++;
    if (GRPC.test(block)) out.grpc++;
    else if (KOALA.test(block)) out.koala++;
  }
  return out;
}
