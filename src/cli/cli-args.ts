/**
 * Flag parsing for the koala command. Config flags come from the option table; each command adds
 * its own. Usage mistakes become KOALA_ERR_USAGE, which main prints with a hint and exit code 2.
 */
import { parseArgs } from 'node:util';
import { KoalaError } from '../errors.js';
import { OPTIONS, OPTION_NAMES } from '../config/options.js';

export type FlagSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

export interface ParsedArgs {
  /** Flag values by name; config flags as raw strings for loadConfig. */
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function configFlagSpec(): FlagSpec {
  const spec: FlagSpec = {};
  for (const n of OPTION_NAMES) spec[OPTIONS[n].flag] = { type: 'string' };
  return spec;
}

export function parseCommandArgs(command: string, argv: string[], flags: FlagSpec, opts: { positionals?: boolean } = {}): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...flags, help: { type: 'boolean', short: 'h' } },
      allowPositionals: opts.positionals ?? false,
      strict: true,
    });
    return { values: values as ParsedArgs['values'], positionals };
  } catch (err) {
    throw new KoalaError('KOALA_ERR_USAGE', `${command}: ${(err as Error).message}`, { cause: err });
  }
}

/** The config flags present in parsed values, as loadConfig's raw flag map. */
export function configFlags(values: ParsedArgs['values']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of OPTION_NAMES) {
    const v = values[OPTIONS[n].flag];
    if (typeof v === 'string') out[OPTIONS[n].flag] = v;
  }
  return out;
}

export function usage(message: string): KoalaError {
  return new KoalaError('KOALA_ERR_USAGE', message);
}
