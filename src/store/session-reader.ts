import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Session } from '../generated/koala/v1/session.pb.js';
import { KoalaError } from '../errors.js';
import { decodeSessionLine } from './session-codec.js';

export type SessionRead =
  | { session: Session; file: string; line: number }
  | { error: KoalaError; file: string; line: number };

export interface ReadOptions {
  /** Only sessions of this SUT. */
  sut?: string;
}

/**
 * Every session in the given files and directories (a directory's `*.jsonl` files in name order),
 * streamed line by line. A malformed line is yielded as an error and reading goes on; an
 * unterminated last line is a write torn by a crash and is skipped.
 */
export async function* readSessions(paths: string[], opts: ReadOptions = {}): AsyncIterable<SessionRead> {
  for (const file of await expandPaths(paths)) {
    for await (const { text, line } of lines(file)) {
      if (text.trim() === '') continue;
      try {
        const session = decodeSessionLine(text);
        if (opts.sut !== undefined && session.sut !== opts.sut) continue;
        yield { session, file, line };
      } catch (err) {
        const error = err instanceof KoalaError ? err : new KoalaError('KOALA_ERR_STORE_CORRUPT_LINE', String(err), { cause: err });
        yield { error, file, line };
      }
    }
  }
}

/** The session with this id, or undefined. Lines that cannot hold the id are not decoded. */
export async function findSession(paths: string[], id: string): Promise<{ session: Session; file: string; line: number } | undefined> {
  const needle = JSON.stringify(id);
  for (const file of await expandPaths(paths)) {
    for await (const { text, line } of lines(file)) {
      if (!text.includes(needle)) continue;
      try {
        const session = decodeSessionLine(text);
        if (session.id === id) return { session, file, line };
      } catch {
        // A corrupt line is not the one asked for; readSessions reports it.
      }
    }
  }
  return undefined;
}

/** The files named, and each directory's files ending in `ext`, in name order. */
export async function expandPaths(paths: string[], ext = '.jsonl'): Promise<string[]> {
  const files: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch (err) {
      throw new KoalaError('KOALA_ERR_STORE', `cannot read ${p}: ${(err as Error).message}`, { cause: err });
    }
    if (st.isDirectory()) {
      const names = (await readdir(p)).filter((n) => n.endsWith(ext)).sort();
      files.push(...names.map((n) => join(p, n)));
    } else {
      files.push(p);
    }
  }
  return files;
}

/** Newline-terminated lines of a file, 1-based; a trailing piece with no newline is dropped. */
async function* lines(file: string): AsyncIterable<{ text: string; line: number }> {
  let pending: Buffer[] = [];
  let line = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      const part = chunk.subarray(start, nl);
      const whole = pending.length === 0 ? part : Buffer.concat([...pending, part]);
      pending = [];
      line++;
      yield { text: whole.toString('utf8'), line };
      start = nl + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
}
