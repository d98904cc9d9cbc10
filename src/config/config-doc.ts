/**
 * Human-readable renderings of the option table: the flag section of --help and
 * docs/configuration.md. A test regenerates the doc and fails when the checked-in copy differs.
 */
import { OPTIONS, OPTION_NAMES, type OptionSpec } from './options.js';

function specs(): Array<[string, OptionSpec<unknown>]> {
  return OPTION_NAMES.map((n) => [n, OPTIONS[n] as OptionSpec<unknown>]);
}

export function renderOptionHelp(): string {
  const rows = specs().map(([, s]) => [`  --${s.flag} <${s.kind}>`, `${s.description} [${s.env}, default ${s.defaultText}]`] as const);
  const width = Math.max(...rows.map(([a]) => a.length)) + 2;
  return rows.map(([a, b]) => `${a.padEnd(width)}${b}`).join('\n');
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

export function renderConfigurationDoc(): string {
  const lines = [
    '# koala configuration',
    '',
    '<!-- Generated from src/config/options.ts by renderConfigurationDoc(); edit the table, then run',
    '     `node --import tsx src/cli/main.ts config-doc > docs/configuration.md`. A test fails when this file is stale. -->',
    '',
    'Every option can be set by its environment variable or by its flag; a flag overrides the',
    'environment. Values are checked at start: a bad one stops the gateway with a message naming the',
    'variable, the flag and what was expected. Addresses written `:port` mean loopback',
    '(`127.0.0.1:port`): the gateway listens beyond the machine only on an address given explicitly.',
    'Durations are written `100ms`, `2s`, `1m30s` (a bare number is milliseconds); byte counts',
    '`65536`, `64KiB`, `16MiB`.',
    '',
    'The library (`startGateway`) does not read the environment: pass options explicitly.',
    '',
    '| variable | flag | value | default | meaning |',
    '|---|---|---|---|---|',
    ...specs().map(
      ([, s]) => `| \`${s.env}\` | \`--${s.flag}\` | ${cell(s.kind)} | ${cell(s.defaultText)} | ${cell(s.description)} |`,
    ),
    '',
  ];
  return lines.join('\n');
}
