import { createReadStream } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { KoalaError } from '../errors.js';
import { expandPaths } from '../store/session-reader.js';
import { RECORD_HEADER_BYTES, readRecordHeader, SPOOL_EXT, SPOOL_MAGIC, type RecordKind } from './spool-format.js';

export interface SpoolRecord {
  kind: RecordKind;
  link: number;
  at: number;
  /** Valid until the next record is read. */
  payload: Buffer;
  file: string;
}

/** One gateway run's spool: its files in order. */
export interface Spool {
  stem: string;
  files: string[];
}

/** No record is this big: a frame over the gateway's largest accepted size (16 MiB by default) never reaches the spool. */
const MAX_RECORD_PAYLOAD = 1024 * 1024 * 1024;
const READ_CHUNK = 1024 * 1024;

const FILE_NAME = new RegExp(`^(.*)-(\\d{4,})\\${SPOOL_EXT}$`);

/**
 * The spools in the given files and directories (a directory's `*.kspool` files), each gateway
 * run's files grouped under its stem and in order.
 */
export async function findSpools(paths: string[]): Promise<Spool[]> {
  const spools = new Map<string, string[]>();
  for (const file of await expandPaths(paths, SPOOL_EXT)) {
    const stem = join(dirname(file), FILE_NAME.exec(basename(file))?.[1] ?? basename(file));
    spools.set(stem, [...(spools.get(stem) ?? []), file]);
  }
  return [...spools].map(([stem, files]) => ({ stem: basename(stem), files }));
}

/**
 * Every whole record of a spool, in order. A file that does not start with the spool's magic, or
 * whose record headers stop making sense, ends with a KoalaError (KOALA_ERR_SPOOL_CORRUPT) after
 * the records before the damage; a file that ends inside a record (a write cut short by a crash)
 * yields what is whole and reports the cut through onTorn.
 */
export async function* readSpool(spool: Spool, onTorn: (file: string, bytes: number) => void): AsyncIterable<SpoolRecord> {
  for (const file of spool.files) {
    let pending: Buffer = Buffer.alloc(0);
    let offset = 0;
    let magic = false;
    for await (const chunk of createReadStream(file, { highWaterMark: READ_CHUNK }) as AsyncIterable<Buffer>) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let off = 0;
      if (!magic) {
        if (pending.length < SPOOL_MAGIC.length) continue;
        if (!pending.subarray(0, SPOOL_MAGIC.length).equals(SPOOL_MAGIC)) throw corrupt(file, 0, 'not a koala spool file (bad magic)');
        magic = true;
        off = SPOOL_MAGIC.length;
      }
      while (pending.length - off >= RECORD_HEADER_BYTES) {
        const h = readRecordHeader(pending, off);
        if (typeof h === 'string') throw corrupt(file, offset + off, h);
        if (h.length > MAX_RECORD_PAYLOAD) throw corrupt(file, offset + off, `record of ${h.length} bytes`);
        const end = off + RECORD_HEADER_BYTES + h.length;
        if (end > pending.length) break;
        yield { kind: h.kind, link: h.link, at: h.at, payload: pending.subarray(off + RECORD_HEADER_BYTES, end), file };
        off = end;
      }
      offset += off;
      pending = pending.subarray(off);
    }
    if (!magic) throw corrupt(file, 0, 'not a koala spool file (shorter than its magic)');
    if (pending.length > 0) onTorn(file, pending.length);
  }
}

function corrupt(file: string, at: number, what: string): KoalaError {
  return new KoalaError('KOALA_ERR_SPOOL_CORRUPT', `${file}: byte ${at}: ${what}`);
}
