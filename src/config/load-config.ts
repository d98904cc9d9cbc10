/**
 * Builds a KoalaConfig from defaults, the environment and flags (flags win), checking every value
 * against the option table. A bad value fails here, at start, naming the env var and the flag.
 */
import { KoalaError } from '../errors.js';
import { OPTIONS, OPTION_NAMES, type KoalaConfig, type OptionName, type OptionSpec } from './options.js';

export interface LoadConfigInput {
  /** Environment to read; pass {} to ignore the environment. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Raw flag values keyed by flag name without dashes ("grpc-addr"). */
  flags?: Readonly<Record<string, string | undefined>>;
  /** Already-typed values (the library API); they win over env and flags. */
  overrides?: Partial<KoalaConfig>;
}

function parseOne<T>(name: OptionName, spec: OptionSpec<T>, raw: string, source: string): T {
  try {
    return spec.parse(raw);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new KoalaError(
      'KOALA_ERR_CONFIG',
      `invalid ${name} (${spec.env} / --${spec.flag}) from ${source}: "${raw}": ${why}`,
      { cause: err },
    );
  }
}

export function loadConfig(input: LoadConfigInput = {}): KoalaConfig {
  const env = input.env ?? {};
  const flags = input.flags ?? {};
  const out: Record<string, unknown> = {};
  for (const name of OPTION_NAMES) {
    const spec = OPTIONS[name] as OptionSpec<unknown>;
    const flagValue = flags[spec.flag];
    const envValue = env[spec.env];
    if (flagValue !== undefined) out[name] = parseOne(name, spec, flagValue, `--${spec.flag}`);
    else if (envValue !== undefined && envValue !== '') out[name] = parseOne(name, spec, envValue, spec.env);
    else out[name] = spec.default();
    const override = input.overrides?.[name];
    if (override !== undefined) out[name] = override;
  }
  return out as KoalaConfig;
}
