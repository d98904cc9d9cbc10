/** An in-process record gateway for the benchmarks, in a temp dir, silent. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type Gateway, type GatewayStats } from '../../src/index.js';
import { sleep } from './proc.js';

export interface BenchGateway {
  readonly gateway: Gateway;
  readonly agentSocket: string;
  readonly storeDir: string | undefined;
  stats(): GatewayStats;
  /** Waits until events + dropped events stop moving (stable for quietMs), at most maxMs. */
  settle(quietMs?: number, maxMs?: number): Promise<GatewayStats>;
  close(): Promise<void>;
}

export async function startBenchGateway(opts: { store: boolean }): Promise<BenchGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'koala-bench-gw-'));
  const storeDir = opts.store ? join(dir, 'store') : undefined;
  const gateway = await startGateway({
    mode: 'record',
    agentSocket: join(dir, 'agent.sock'),
    agentGrpcAddr: '127.0.0.1:0',
    ...(storeDir === undefined ? {} : { storeDir }),
  });
  return {
    gateway,
    agentSocket: gateway.agentSocket,
    storeDir,
    stats: () => gateway.stats(),
    async settle(quietMs = 400, maxMs = 15_000) {
      const until = Date.now() + maxMs;
      let last = gateway.stats();
      let stableSince = Date.now();
      while (Date.now() < until) {
        await sleep(50);
        const s = gateway.stats();
        if (s.events !== last.events || s.droppedEvents !== last.droppedEvents || s.sessions !== last.sessions) {
          last = s;
          stableSince = Date.now();
        } else if (Date.now() - stableSince >= quietMs) break;
      }
      return gateway.stats();
    },
    async close() {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
