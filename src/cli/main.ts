#!/usr/bin/env node
/**
 * The koala command: one file per command under commands/. Usage and configuration mistakes
 * print a one-line reason and exit 2; other failures exit 1.
 */
import { renderConfigurationDoc } from '../config/config-doc.js';
import { isKoalaError } from '../errors.js';
import { assembleCommand } from './commands/assemble.js';
import { gatewayCommand } from './commands/gateway.js';
import { goCommand } from './commands/go.js';
import { replayCommand } from './commands/replay.js';
import { runCommand } from './commands/run.js';
import { sessionsCommand } from './commands/sessions.js';

const HELP = `Usage: koala <command> [options]

Commands:
  gateway              Run the gateway (record, replay or record+replay).
  run -- CMD [ARGS]    Run a non-Go program under the koala shim.
  replay STORE_PATH…   Replay recorded sessions against a SUT and report the differences.
  sessions list|show   Inspect recorded sessions.
  assemble [DIR…]      Turn spools (--assembler spool) into sessions.
  go flags|build       Build a Go program with the koala hooks.
  config-doc           Print docs/configuration.md, generated from the option table.

Run 'koala <command> --help' for a command's options. Every option is documented in
docs/configuration.md.
`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  gateway: gatewayCommand,
  run: runCommand,
  replay: replayCommand,
  sessions: sessionsCommand,
  assemble: assembleCommand,
  go: goCommand,
  'config-doc': async () => {
    process.stdout.write(renderConfigurationDoc());
    return 0;
  },
};

// `koala sessions list | head` closes our stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? process.stderr : process.stdout).write(HELP);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`koala: unknown command "${name}"\n${HELP}`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (err) {
    if (isKoalaError(err, 'KOALA_ERR_USAGE') || isKoalaError(err, 'KOALA_ERR_CONFIG')) {
      process.stderr.write(`koala: ${err.message}\nRun 'koala ${name} --help' for usage.\n`);
      return 2;
    }
    process.stderr.write(`koala ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Let stdout drain on its own; a handle left open by a library must not keep us alive.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`koala: ${String(err)}\n`);
    process.exit(1);
  },
);
