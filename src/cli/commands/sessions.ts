/**
 * `koala sessions list|show`: inspect a session store. Malformed lines are skipped and reported
 * on stderr (file:line: reason), by show only when the id is not found; the exit code is non-zero
 * only when nothing could be read or show did not find the id.
 */
import { KoalaError } from '../../errors.js';
import { encodeSessionLine } from '../../store/session-codec.js';
import { findSession, readSessions } from '../../store/session-reader.js';
import { parseCommandArgs, usage } from '../cli-args.js';
import { sessionDetail, sessionSummary } from '../session-text.js';

export const sessionsHelp = `Usage:
  koala sessions list [DIR|FILE...] [--sut NAME] [--json]
  koala sessions show ID [DIR|FILE...] [--json]

list  One line per session: id, sut, start time, end reason, first line of the inbound request
      and response, number of talks, completeness ("complete" or what was lost).
show  One session in full: inbound request and response, preludes and each talk with its peer;
      bytes as text when printable, else a hex dump.

DIR defaults to $KOALA_STORE_DIR. --json prints sessions as JSON Lines in the store's encoding.
Malformed store lines are skipped; list reports them on stderr, show only when the ID is not found.
`;

function storePaths(paths: string[], command: string): string[] {
  if (paths.length > 0) return paths;
  const dir = process.env.KOALA_STORE_DIR;
  if (dir) return [dir];
  throw usage(`sessions ${command}: give a store DIR or FILE (or set KOALA_STORE_DIR)`);
}

/** Reads sessions, reporting bad lines on stderr; returns counts for the exit code. */
async function each(paths: string[], sut: string | undefined, fn: (line: string) => void, render: (s: import('../../generated/koala/v1/session.pb.js').Session) => string): Promise<{ sessions: number; errors: number }> {
  let sessions = 0;
  let errors = 0;
  for await (const r of readSessions(paths, sut === undefined ? {} : { sut })) {
    if ('error' in r) {
      errors++;
      process.stderr.write(`${r.file}:${r.line}: ${r.error.message}\n`);
      continue;
    }
    sessions++;
    fn(render(r.session));
  }
  return { sessions, errors };
}

async function list(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('sessions list', argv, { sut: { type: 'string' }, json: { type: 'boolean' } }, { positionals: true });
  if (values.help) {
    process.stdout.write(sessionsHelp);
    return 0;
  }
  const paths = storePaths(positionals, 'list');
  const sut = typeof values.sut === 'string' ? values.sut : undefined;
  const { sessions, errors } = await each(paths, sut, (l) => process.stdout.write(`${l}\n`), values.json ? encodeSessionLine : sessionSummary);
  if (sessions === 0 && errors > 0) {
    process.stderr.write(`koala sessions list: no readable session in ${paths.join(', ')}\n`);
    return 1;
  }
  return 0;
}

async function show(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('sessions show', argv, { json: { type: 'boolean' } }, { positionals: true });
  if (values.help) {
    process.stdout.write(sessionsHelp);
    return 0;
  }
  const [id, ...rest] = positionals;
  if (id === undefined) throw usage('sessions show: missing the session ID');
  const paths = storePaths(rest, 'show');
  const found = await findSession(paths, id);
  if (found === undefined) {
    // The id may sit on a line that could not be decoded: name those lines so the miss is explained.
    for await (const r of readSessions(paths)) if ('error' in r) process.stderr.write(`${r.file}:${r.line}: ${r.error.message}\n`);
    process.stderr.write(`koala sessions show: session ${id} not found in ${paths.join(', ')}\n`);
    return 1;
  }
  process.stdout.write(values.json ? `${encodeSessionLine(found.session)}\n` : sessionDetail(found.session));
  return 0;
}

export async function sessionsCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(sessionsHelp);
    return sub === undefined ? 2 : 0;
  }
  try {
    if (sub === 'list') return await list(rest);
    if (sub === 'show') return await show(rest);
  } catch (err) {
    // An unreadable path means nothing could be read: report it like a usage problem, not a crash.
    if (err instanceof KoalaError && err.code === 'KOALA_ERR_STORE') {
      process.stderr.write(`koala sessions ${sub}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  throw usage(`sessions: unknown subcommand "${sub}" (list or show)`);
}
