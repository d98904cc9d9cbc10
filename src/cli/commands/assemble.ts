/**
 * `koala assemble`: turns spools (recorded with --assembler spool) into sessions. One summary line
 * per spool on stdout; every loss is named on stderr. Exit 1 when a spool was damaged, sessions
 * could not be written, or no spool was found, else 0.
 */
import { rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { loadConfig } from '../../config/load-config.js';
import { Logger } from '../../log/logger.js';
import { assembleSpool, type SpoolOutcome } from '../../spool/assemble-spool.js';
import { findSpools } from '../../spool/spool-reader.js';
import { configFlagSpec, configFlags, parseCommandArgs, usage } from '../cli-args.js';

export const assembleHelp = `Usage: koala assemble [SPOOL_DIR|SPOOL_FILE...] [--out DIR] [--keep] [--session-idle D] [options]

Assembles what a gateway recording with --assembler spool kept (spool-*.kspool files) into
sessions, exactly as a gateway assembling live would have: one sessions-*.jsonl file per spool
(per gateway run), in --out (default: the directory the spool is in). SPOOL_DIR defaults to
$KOALA_STORE_DIR.

A spool that the gateway closed cleanly is renamed to *.kspool.assembled once its sessions are on
disk, so assembling the same directory again does not duplicate them (--keep leaves it as is). A
spool without its end (the gateway was killed, or still runs) is assembled as far as it goes, its
open sessions end where it does, and it is left in place.

The assembler's options (--session-idle, --outbound-bypass, --max-payload) must match the
gateway's for the sessions to be the ones live assembly would have made; the defaults do.

Prints one line per spool; exits 1 if a spool was damaged, sessions could not be written, or no
spool was found.
`;

export async function assembleCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('assemble', argv, { ...configFlagSpec(), out: { type: 'string' }, keep: { type: 'boolean' } }, { positionals: true });
  if (values.help) {
    process.stdout.write(assembleHelp);
    return 0;
  }
  const config = loadConfig({ env: process.env, flags: configFlags(values) });
  const paths = positionals.length > 0 ? positionals : config.storeDir !== undefined ? [config.storeDir] : [];
  if (paths.length === 0) throw usage('assemble: give a spool DIR or FILE (or set KOALA_STORE_DIR)');
  const out = typeof values.out === 'string' ? values.out : undefined;
  const logger = Logger.create({ level: config.logLevel, file: config.logFile });
  const assembler = { idleAfterResponseMs: config.sessionIdleMs, bypassAddrs: config.outboundBypassAddrs, maxPayloadBytes: config.maxPayloadBytes };
  const spools = await findSpools(paths);
  if (spools.length === 0) {
    process.stderr.write(`koala assemble: no spool (*.kspool) in ${paths.join(', ')}\n`);
    logger.close();
    return 1;
  }
  let failed = 0;
  for (const spool of spools) {
    const storeDir = out ?? dirname(spool.files[0] as string);
    const o = await assembleSpool(spool, { assembler, storeDir, logger });
    process.stdout.write(`${summary(o)}\n`);
    for (const line of losses(o)) process.stderr.write(`koala assemble: ${o.stem}: ${line}\n`);
    if (o.corrupt !== undefined || o.storeErrors > 0) failed++;
    if (o.ended && o.corrupt === undefined && o.storeErrors === 0 && values.keep !== true) {
      for (const f of spool.files) await rename(f, `${f}.assembled`);
    }
  }
  logger.close();
  return failed > 0 ? 1 : 0;
}

function summary(o: SpoolOutcome): string {
  const files = o.files.length === 1 ? '1 file' : `${o.files.length} files`;
  return `${o.stem} (${files}): ${o.sessions} sessions, ${o.events} events in ${o.batches} batches, ${o.droppedEvents} events lost by agents → ${o.sessionsFile ?? '-'}`;
}

/** What a spool's sessions miss, one line each. */
function losses(o: SpoolOutcome): string[] {
  const out: string[] = [];
  if (!o.ended) out.push('no end record: the gateway was killed or is still running; sessions open at its end were ended there');
  if (o.tornBytes > 0) out.push(`${o.tornBytes} bytes of a record cut short at the end were not assembled`);
  if (o.malformedBatches > 0) out.push(`${o.malformedBatches} batches did not decode (their events after the damage are lost)`);
  if (o.corrupt !== undefined) out.push(`damaged, assembled up to the damage: ${o.corrupt}`);
  if (o.storeErrors > 0) out.push(`${o.storeErrors} errors writing sessions (see the log)`);
  return out;
}
