/**
 * framing: what replay pays to frame an HTTP/1.1 chunked body that arrives a chunk at a time (a
 * streamed response, server-sent events). MessageReader frames the buffered bytes on every read,
 * so each chunk costs a frame() call on the whole message so far; the framer must resume at its
 * last chunk boundary for the total to stay linear in the number of chunks.
 *
 *   node --import tsx bench/framing-chunks.ts [--chunks 1000,10000,100000] [--size 3]
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Http1ResponseFramer } from '../src/replay/framing/http1-framer.js';
import { finish, header, type Cell } from './lib/report.js';

/** Frames a response of `n` chunks of `size` bytes as it grows one chunk at a time; ms. */
function frameOneByOne(n: number, size: number): number {
  const head = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
  const chunk = Buffer.from(`${size.toString(16)}\r\n${'x'.repeat(size)}\r\n`);
  const store = Buffer.concat([head, ...Array.from({ length: n }, () => chunk), Buffer.from('0\r\n\r\n')]);
  const f = new Http1ResponseFramer();
  const t0 = performance.now();
  for (let end = head.length + chunk.length; end < store.length; end += chunk.length) f.frame(store.subarray(0, end));
  const v = f.frame(store);
  const ms = performance.now() - t0;
  if (v.status !== 'complete' || v.length !== store.length) throw new Error(`framing ${n} chunks gave ${JSON.stringify(v)}`);
  return ms;
}

export function main(argv: string[] = process.argv.slice(2)): void {
  const { values } = parseArgs({ args: argv, options: { chunks: { type: 'string', default: '1000,10000,100000' }, size: { type: 'string', default: '3' } } });
  const counts = (values.chunks as string).split(',').map(Number);
  const size = Number(values.size);
  const h = header('framing', `an HTTP/1.1 chunked body of ${size}-byte chunks framed as it grows a chunk at a time (replay's MessageReader)`);
  frameOneByOne(1000, size); // warm-up
  const rows: Cell[][] = counts.map((n) => {
    const ms = frameOneByOne(n, size);
    return [n, ms, (ms * 1e6) / n];
  });
  finish(h, ['chunks', 'ms to frame all', 'ns per chunk'], rows, { size, rows });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
