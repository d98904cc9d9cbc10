/**
 * Spool → sessions: feeds a spool's records to the same assembly (assembler + store) a recording
 * gateway runs live, on the clock the records carry, so the sessions are the ones live assembly
 * would have stored. Each gateway run's spool is assembled on its own (link numbers are per run)
 * into its own sessions file.
 */
import { AgentHello } from '../generated/koala/v1/agent.pb.js';
import { AssemblyCore, type AssemblyCoreOptions } from '../gateway/assembly-core.js';
import type { Logger } from '../log/logger.js';
import { RecordKind } from './spool-format.js';
import { findSpools, readSpool, type Spool } from './spool-reader.js';

export interface AssembleSpoolOptions {
  assembler: AssemblyCoreOptions['assembler'];
  /** Where the sessions files go. */
  storeDir: string;
  logger: Logger;
}

export interface SpoolOutcome {
  stem: string;
  files: string[];
  records: number;
  batches: number;
  events: number;
  sessions: number;
  /** Events the agents reported dropped or that never arrived: the sessions open meanwhile are marked incomplete. */
  droppedEvents: number;
  /** Batches that did not decode (the events whole before the damage were applied). */
  malformedBatches: number;
  /** The gateway closed cleanly (an END record); false: it was cut short and open sessions end where the spool does. */
  ended: boolean;
  /** Bytes of a record cut short at a file's end. */
  tornBytes: number;
  /** The spool stopped making sense here; the records before it were assembled. */
  corrupt: string | undefined;
  storeErrors: number;
  sessionsFile: string | undefined;
}

/** The store's queue is let grow to this before assembling waits for the disk (a spool can be far larger than memory). */
const STORE_HIGH_BYTES = 64 * 1024 * 1024;
const STORE_LOW_BYTES = 16 * 1024 * 1024;

export async function assembleSpools(paths: string[], opts: AssembleSpoolOptions): Promise<SpoolOutcome[]> {
  const out: SpoolOutcome[] = [];
  for (const spool of await findSpools(paths)) out.push(await assembleSpool(spool, opts));
  return out;
}

export async function assembleSpool(spool: Spool, opts: AssembleSpoolOptions): Promise<SpoolOutcome> {
  const log = opts.logger.child('assemble');
  let clock = 0;
  const core = await AssemblyCore.open({ assembler: opts.assembler, storeDir: opts.storeDir, logger: opts.logger, now: () => clock }, () => {});
  const o: SpoolOutcome = {
    stem: spool.stem, files: spool.files, records: 0, batches: 0, events: 0, sessions: 0, droppedEvents: 0, malformedBatches: 0,
    ended: false, tornBytes: 0, corrupt: undefined, storeErrors: 0, sessionsFile: core.stats().storePath,
  };
  const onTorn = (file: string, bytes: number) => {
    o.tornBytes += bytes;
    log.warn('the spool ends inside a record (a write cut short); what precedes it is assembled', { file, bytes });
  };
  try {
    for await (const r of readSpool(spool, onTorn)) {
      o.records++;
      clock = r.at;
      switch (r.kind) {
        case RecordKind.Hello:
          core.agentConnected(r.link, AgentHello.decode(r.payload));
          break;
        case RecordKind.Batch: {
          o.batches++;
          const outcome = core.ingestBatchFrame(r.link, r.payload);
          if (typeof outcome === 'string') {
            o.malformedBatches++;
            log.warn('a spooled batch does not decode', { file: r.file, link: r.link, message: outcome });
          }
          break;
        }
        case RecordKind.Gone:
          core.agentDisconnected(r.link);
          break;
        case RecordKind.Tick:
          core.tick();
          break;
        case RecordKind.End:
          o.ended = true;
          break;
      }
      if (core.storeQueuedBytes > STORE_HIGH_BYTES) await core.storeDrained(STORE_LOW_BYTES);
    }
  } catch (err) {
    o.corrupt = (err as Error).message;
    log.error('the spool is damaged; the records before the damage are assembled', { err: o.corrupt });
  }
  // As a gateway's close does: open sessions end (GATEWAY_SHUTDOWN), the store is flushed.
  await core.close();
  const s = core.stats();
  o.events = s.events;
  o.sessions = s.assembler.sessionsEmitted;
  o.droppedEvents = s.assembler.droppedEventsReported + s.assembler.seqGapEvents;
  o.storeErrors = s.storeErrors;
  return o;
}
