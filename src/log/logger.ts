/**
 * A small leveled logger. Each source file logs under one component name (ingest, assembler,
 * store, gateway); children share the destination and level. Fields may be given as a function
 * so costly formatting only happens when the level is enabled.
 */
import type { LogLevelName } from '../config/options.js';
import { openDestination, type LogDestination } from './rotating-file.js';

export type LogFields = Record<string, unknown>;
type FieldsArg = LogFields | (() => LogFields) | undefined;

const RANK: Record<LogLevelName, number> = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4, FATAL: 5 };

interface Shared {
  level: number;
  destination: LogDestination;
  now: () => number;
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]*$/.test(v) && v !== '' ? v : JSON.stringify(v);
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Error) return JSON.stringify(`${v.name}: ${v.message}`);
  if (Buffer.isBuffer(v)) return `<${v.length} bytes>`;
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)) ?? String(v);
  } catch {
    return String(v);
  }
}

export class Logger {
  private constructor(
    readonly component: string,
    private readonly shared: Shared,
  ) {}

  static create(opts: { level?: LogLevelName; file?: string; destination?: LogDestination; component?: string; now?: () => number } = {}): Logger {
    const now = opts.now ?? Date.now;
    const destination = opts.destination ?? openDestination(opts.file ?? 'STDERR', now);
    return new Logger(opts.component ?? 'koala', { level: RANK[opts.level ?? 'INFO'], destination, now });
  }

  /** A logger that writes nothing (library default when the caller gives no log options). */
  static silent(): Logger {
    return new Logger('koala', { level: Infinity, destination: { write() {}, close() {} }, now: Date.now });
  }

  child(component: string): Logger {
    return new Logger(component, this.shared);
  }

  /** The lowest level written (a worker thread's logger is created at the same level). */
  get level(): LogLevelName | 'OFF' {
    return (Object.keys(RANK) as LogLevelName[]).find((k) => RANK[k] === this.shared.level) ?? 'OFF';
  }

  /** Writes a line another logger already formatted (one from a worker thread), if it is enabled. */
  writeFormatted(line: string): void {
    this.shared.destination.write(line);
  }

  enabled(level: LogLevelName): boolean {
    return RANK[level] >= this.shared.level;
  }

  log(level: LogLevelName, message: string, fields?: FieldsArg): void {
    if (!this.enabled(level)) return;
    const f = typeof fields === 'function' ? fields() : fields;
    let line = `${new Date(this.shared.now()).toISOString()} ${level.padEnd(5)} ${this.component}: ${message}`;
    if (f) for (const [k, v] of Object.entries(f)) if (v !== undefined) line += ` ${k}=${formatValue(v)}`;
    this.shared.destination.write(`${line}\n`);
  }

  trace(message: string, fields?: FieldsArg): void { this.log('TRACE', message, fields); }
  debug(message: string, fields?: FieldsArg): void { this.log('DEBUG', message, fields); }
  info(message: string, fields?: FieldsArg): void { this.log('INFO', message, fields); }
  warn(message: string, fields?: FieldsArg): void { this.log('WARN', message, fields); }
  error(message: string, fields?: FieldsArg): void { this.log('ERROR', message, fields); }
  fatal(message: string, fields?: FieldsArg): void { this.log('FATAL', message, fields); }

  close(): void {
    this.shared.destination.close();
  }
}
