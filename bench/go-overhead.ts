/**
 * Overhead of recording a Go service: the Go SUT (test/fixtures/go-sut) built plain and with
 * -tags koala_go + the overlay, driven on /fanout (HTTP, Redis and MariaDB per request) by the C
 * load generator, in the same run: plain, recording into `koala gateway`, and hooked with no
 * gateway listening.
 *
 * The gateway runs as its own process, as in production. An earlier version ran it inside the
 * load generator's node process, next to the HTTP downstream; on 2 cores that measured mostly
 * who won the CPU (0.42 throughput ratio), not what recording costs. The figures that carry over
 * to other machines are the CPU per request of the SUT and of the gateway; see
 * bench/overhead-cpu.ts, which this runs with --sut go.
 *
 *   node --import tsx bench/go-overhead.ts [--seconds 8] [--rounds 2] [--conns 16] [--pin none|0|1|any]
 */
import { main } from './overhead-cpu.js';

for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
main(['--sut', 'go', ...process.argv.slice(2)]).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
