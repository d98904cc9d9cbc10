/** Worker-thread host for the replay benchmark's SUT (replay-sut.ts): reports go by message. */
import { parentPort, workerData } from 'node:worker_threads';
import { startNodeSut } from './replay-sut.js';

const port = parentPort;
if (port === null) throw new Error('replay-sut-worker must run in a worker thread');
const { targetPort } = workerData as { targetPort: number };
const sut = await startNodeSut(targetPort, (r) => port.postMessage(r));
port.postMessage({ t: 'ready', port: sut.port });
port.on('message', (m: { t: string }) => {
  if (m.t !== 'stop') return;
  void sut.stop().then(() => {
    port.postMessage({ t: 'calls', callMs: sut.callMs });
    port.close();
  });
});
