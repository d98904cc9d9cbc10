/**
 * The assembly thread's entry point: decodes agent batches, assembles sessions and writes the
 * store, at a low priority so the SUT sharing the machine keeps its CPU. The main thread only
 * receives bytes and passes them here (assembly-thread.ts).
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { Session } from '../generated/koala/v1/session.pb.js';
import { Logger } from '../log/logger.js';
import { AssemblyCore } from './assembly-core.js';
import { STORE_PACE, StorePacer } from './store-pacer.js';
import type { AssemblyWorkerData, FromWorker, ToWorker, WorkerStats } from './assembly-protocol.js';
import { lowerCurrentThread } from './thread-priority.js';

/** How often the main thread learns what was assembled (its backlog bound depends on it). */
const PROGRESS_MS = 25;

async function main(port: MessagePort, data: AssemblyWorkerData): Promise<void> {
  const post = (m: FromWorker) => port.postMessage(m);
  const logger =
    data.logLevel === 'OFF'
      ? Logger.silent()
      : Logger.create({ level: data.logLevel, destination: { write: (line) => post({ t: 'log', line }), close() {} } });
  const nice = data.nice > 0 ? lowerCurrentThread(data.nice) : 0;
  if (nice === undefined) logger.child('gateway').warn('could not lower the assembly thread priority; it competes with the SUT at full priority', { nice: data.nice });

  // The assembler's clock is the main thread's arrival time of what it is applying.
  let clock = Date.now();
  let processedBytes = 0;
  let forward = false;
  let pending: Session[] = [];
  let progress: NodeJS.Timeout | undefined;

  let core: AssemblyCore;
  try {
    core = await AssemblyCore.open({ assembler: data.assembler, storeDir: data.storeDir, logger, now: () => clock }, (s) => {
      if (forward) pending.push(s);
    });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    post({ t: 'failed', code: e.code ?? 'KOALA_ERR_STORE', message: e.message ?? String(err) });
    return;
  }
  const stats = (): WorkerStats => ({ ...core.stats(), processedBytes, nice });

  const handle = (m: ToWorker): void => {
    switch (m.t) {
      case 'hello':
        clock = m.at;
        core.agentConnected(m.link, m.hello);
        break;
      case 'batch': {
        clock = m.at;
        processedBytes += m.frame.byteLength;
        const outcome = core.ingestBatchFrame(m.link, m.frame);
        if (typeof outcome === 'string') {
          post({ t: 'malformed', link: m.link, message: outcome });
          break;
        }
        progress ??= setTimeout(() => {
          progress = undefined;
          post({ t: 'progress', stats: stats() });
        }, PROGRESS_MS);
        break;
      }
      case 'gone':
        clock = m.at;
        core.agentDisconnected(m.link);
        break;
      case 'tick':
        clock = m.at;
        core.tick();
        break;
      case 'forward':
        forward = m.on;
        break;
      case 'flush':
        sendSessions();
        void core.flush().then(() => post({ t: 'flushed', id: m.id, stats: stats() }));
        return;
      case 'close':
        clock = m.at;
        port.off('message', onMessage);
        if (progress) clearTimeout(progress);
        void core.close().then(() => {
          sendSessions();
          post({ t: 'closed', stats: stats() });
          port.close();
        });
        return;
    }
    sendSessions();
  };
  const sendSessions = () => {
    if (pending.length === 0) return;
    const sessions = pending;
    pending = [];
    post({ t: 'sessions', sessions, stats: stats() });
  };
  const gatewayLog = logger.child('gateway');
  const pacer = new StorePacer<ToWorker>({
    handle,
    queuedBytes: () => core.storeQueuedBytes,
    drained: (bytes) => core.storeDrained(bytes),
    ...STORE_PACE,
    onHold: (holding, queuedBytes) => {
      if (holding) gatewayLog.warn('the disk is behind the recording: assembling waits for the store to catch up', { queuedBytes });
      else gatewayLog.info('the store caught up; assembling again', { queuedBytes });
    },
  });
  const onMessage = (m: ToWorker): void => pacer.push(m);
  port.on('message', onMessage);
  post({ t: 'ready', stats: stats() });
}

if (parentPort !== null) void main(parentPort, workerData as AssemblyWorkerData);
