/**
 * The node SUT of the replay benchmark. For `GET /item/<key>` it opens a connection to its
 * dependency (the outbound mock, or a plain server for the baseline), sends one Redis GET, and
 * answers `{"key","value"}`. It plays its own agent: `report` gets the accept (pid, vtid, peer
 * port) and each CONNECT (local port after the TCP connect, so the mock's resolver sometimes
 * waits for it), as a shim would report them. Runs inline or in a worker thread
 * (replay-sut-worker.ts), where reports travel by message like a real agent's do.
 */
import { connect, createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export type SutReport = { t: 'inbound'; vtid: number; peerPort: number } | { t: 'connect'; vtid: number; localPort: number };

export const getCmd = (key: string): string => `*2\r\n$3\r\nGET\r\n$${key.length}\r\n${key}\r\n`;
export const httpOk = (body: string): string =>
  `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

export interface RunningSut {
  port: number;
  /** ms from starting the outbound connect to the whole reply, one per call. */
  callMs: number[];
  stop(): Promise<void>;
}

export async function startNodeSut(targetPort: number, report: (r: SutReport) => void): Promise<RunningSut> {
  let vtid = 100;
  const sockets = new Set<Socket>();
  const callMs: number[] = [];
  const server = createServer((inbound) => {
    sockets.add(inbound);
    inbound.on('close', () => sockets.delete(inbound));
    inbound.on('error', () => undefined);
    const myVtid = ++vtid;
    inbound.once('data', (d: Buffer) => {
      void (async () => {
        report({ t: 'inbound', vtid: myVtid, peerPort: inbound.remotePort ?? 0 });
        const key = /GET \/item\/(\S+)/.exec(d.toString('latin1'))?.[1] ?? '?';
        const t0 = performance.now();
        const out = connect({ host: '127.0.0.1', port: targetPort });
        sockets.add(out);
        out.on('close', () => sockets.delete(out));
        out.on('error', () => undefined);
        await new Promise((r) => out.once('connect', r));
        report({ t: 'connect', vtid: myVtid, localPort: out.localPort ?? 0 });
        out.write(getCmd(key));
        const reply = await new Promise<string>((resolve) => {
          let acc = '';
          out.on('data', (x: Buffer) => {
            acc += x.toString('latin1');
            if (/^\$\d+\r\n.*\r\n$/s.test(acc) || acc.startsWith('$-1\r\n')) resolve(acc);
          });
          out.on('close', () => resolve(acc));
        });
        callMs.push(performance.now() - t0);
        out.destroy();
        const value = reply.split('\r\n')[1] ?? null;
        inbound.end(httpOk(JSON.stringify({ key, value })));
      })().catch(() => inbound.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('no port');
  return {
    port: a.port,
    callMs,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
