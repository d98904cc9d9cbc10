import { startHttpDownstream, startLineDownstream, startUdpSink, type HttpDownstream, type LineDownstream, type UdpSink } from './downstream.js';
import { startTestGateway, type TestGateway } from './gateway.js';
import { startMariaDb, type MariaDb } from './mariadb.js';
import { RawHttpConnection } from './raw-http.js';
import { startRedis, type Redis } from './redis.js';
import type { Downstreams, Sut } from './sut.js';
import type { GatewayOptions } from '../../src/index.js';

/** Everything a record scenario runs against: real downstreams and an in-process gateway. */
export interface ScenarioEnv {
  http: HttpDownstream;
  line: LineDownstream;
  udp: UdpSink;
  redis?: Redis;
  mariadb?: MariaDb;
  gateway: TestGateway;
  downstreams: Downstreams;
  /** Processes to stop with the env (SUTs started by the test). */
  suts: Sut[];
  /** What the HTTP downstream answers to `request` (its responses are byte-stable). */
  httpDirect(request: string): Promise<Buffer>;
  stop(): Promise<void>;
}

export async function startScenarioEnv(
  opts: { redis?: boolean; mariadb?: boolean; gateway?: GatewayOptions } = {},
): Promise<ScenarioEnv> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const suts: Sut[] = [];
  const track = <T>(p: Promise<T>, stop: (t: T) => Promise<unknown>): Promise<T> =>
    p.then((t) => {
      cleanups.push(() => stop(t));
      return t;
    });
  try {
    const [http, line, udp, redis, mariadb, gateway] = await Promise.all([
      track(startHttpDownstream(), (s) => s.close()),
      track(startLineDownstream(), (s) => s.close()),
      track(startUdpSink(), (s) => s.close()),
      opts.redis ? track(startRedis(), (s) => s.stop()) : undefined,
      opts.mariadb ? track(startMariaDb(), (s) => s.stop()) : undefined,
      track(startTestGateway(opts.gateway), (g) => g.close()),
    ]);
    let direct: RawHttpConnection | undefined;
    return {
      http,
      line,
      udp,
      redis,
      mariadb,
      gateway,
      suts,
      downstreams: { http: http.port, line: line.port, udp: udp.port, redis: redis?.port, mysql: mariadb },
      async httpDirect(request) {
        if (request.includes('Connection: close')) {
          const c = await RawHttpConnection.open(http.port);
          try {
            return await c.request(request);
          } finally {
            c.close();
          }
        }
        direct ??= await RawHttpConnection.open(http.port);
        return direct.request(request);
      },
      async stop() {
        direct?.close();
        await Promise.allSettled(suts.map((s) => s.stop()));
        await Promise.allSettled(cleanups.map((c) => c()));
      },
    };
  } catch (err) {
    await Promise.allSettled(suts.map((s) => s.stop()));
    await Promise.allSettled(cleanups.map((c) => c()));
    throw err;
  }
}
