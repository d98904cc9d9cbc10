/**
 * Overhead of recording a Go service: the same SUT source built plain and with -tags koala_go +
 * the overlay, driven the same way in the same run (a fixed number of /fanout requests, each
 * calling HTTP, Redis and MariaDB, at a fixed concurrency over keep-alive connections). The
 * hooked SUT records into an in-process gateway, so the gateway's CPU on this machine is part
 * of the price, as it would be on a single host.
 *
 *   node --import tsx bench/go-overhead.ts [--requests 3000] [--concurrency 16] [--rounds 2]
 */
import { parseArgs } from 'node:util';
import { startTestGateway, type TestGateway } from '../test/helpers/gateway.js';
import { buildGoSut, RawHttpClient, startGoDeps, startGoSut, type GoSutVariant } from '../test/helpers/go-sut.js';
import type { Sut } from '../test/helpers/sut.js';

/** plain; hooked recording into the gateway; hooked with no gateway (hooks + agent, no export). */
type Variant = GoSutVariant | 'hooked-no-gw';
const VARIANTS: Variant[] = ['plain', 'hooked', 'hooked-no-gw'];

interface Round {
  variant: Variant;
  seconds: number;
  latenciesMs: number[];
  errors: number;
}

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '2' },
  },
});
const REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const ROUNDS = Number(values.rounds);

async function drive(sut: Sut, variant: Variant, requests: number, tag: string): Promise<Round> {
  const latenciesMs: number[] = [];
  let next = 0;
  let errors = 0;
  const began = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      const c = await RawHttpClient.connect(sut.port);
      while (next < requests) {
        const i = next++;
        const t0 = process.hrtime.bigint();
        const r = await c.get(`/fanout?token=${tag}-${variant}-${i}`);
        latenciesMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (r.status !== 200) errors++;
      }
      await c.close();
    }),
  );
  return { variant, seconds: Number(process.hrtime.bigint() - began) / 1e9, latenciesMs, errors };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summarize(rounds: Round[], variant: Variant): { rps: number; p50: number; p99: number; errors: number; n: number } {
  const mine = rounds.filter((r) => r.variant === variant);
  const lat = mine.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  const seconds = mine.reduce((s, r) => s + r.seconds, 0);
  return {
    rps: lat.length / seconds,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    errors: mine.reduce((s, r) => s + r.errors, 0),
    n: lat.length,
  };
}

async function main(): Promise<void> {
  const [plainBin, hookedBin, deps] = await Promise.all([buildGoSut('plain'), buildGoSut('hooked'), startGoDeps()]);
  let gw: TestGateway | undefined;
  const suts: Sut[] = [];
  try {
    gw = await startTestGateway({ logLevel: 'ERROR' });
    const plain = await startGoSut(plainBin, { downstreams: deps.downstreams });
    suts.push(plain);
    const hooked = await startGoSut(hookedBin, { gatewayAddr: gw.gateway.agentGrpcAddr, downstreams: deps.downstreams });
    suts.push(hooked);
    // Nothing listens on its gateway address: the agent buffers up to KOALA_BUFFER_SIZE, then drops.
    const noGw = await startGoSut(hookedBin, { downstreams: deps.downstreams });
    suts.push(noGw);
    const sutOf: Record<Variant, Sut> = { plain, hooked, 'hooked-no-gw': noGw };

    // Warm all: connection pools filled, code paths hot.
    for (const v of VARIANTS) await drive(sutOf[v], v, 200, 'warm');
    const rounds: Round[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // Rotate the order so no variant always runs on a warmer (or busier) machine.
      const order = VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length]);
      for (const v of order) rounds.push(await drive(sutOf[v], v, REQUESTS, `r${r}`));
    }

    const p = summarize(rounds, 'plain');
    console.log(`Go SUT /fanout (HTTP + Redis + MariaDB per request), ${ROUNDS} x ${REQUESTS} requests per variant, concurrency ${CONCURRENCY}`);
    console.log('| variant      | requests |   req/s |  p50 ms  |  p99 ms  | errors | req/s vs plain | p50 vs plain | p99 vs plain |');
    console.log('|--------------|----------|---------|----------|----------|--------|----------------|--------------|--------------|');
    for (const v of VARIANTS) {
      const s = summarize(rounds, v);
      console.log(
        `| ${v.padEnd(12)} | ${String(s.n).padStart(8)} | ${s.rps.toFixed(0).padStart(7)} | ${s.p50.toFixed(2).padStart(8)} | ` +
          `${s.p99.toFixed(2).padStart(8)} | ${String(s.errors).padStart(6)} | ${(s.rps / p.rps).toFixed(3).padStart(14)} | ` +
          `${(s.p50 / p.p50).toFixed(3).padStart(12)} | ${(s.p99 / p.p99).toFixed(3).padStart(12)} |`,
      );
    }
    const st = gw.stats();
    console.log(`gateway: ${st.sessions} sessions, ${st.events} events, ${st.droppedEvents} dropped`);
  } finally {
    for (const s of suts) await s.stop();
    await gw?.close();
    await deps.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
