/**
 * `koala run`: starts a program under the C shim (LD_PRELOAD) with the environment its agent
 * reads, forwards SIGTERM/SIGINT to it and exits with its exit code.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { renderOptionHelp } from '../../config/config-doc.js';
import { loadConfig } from '../../config/load-config.js';
import { OPTIONS, OPTION_NAMES, formatOptionValue, type KoalaConfig } from '../../config/options.js';
import { KoalaError } from '../../errors.js';
import { configFlagSpec, configFlags, parseCommandArgs, usage } from '../cli-args.js';
import { shimPath } from '../package-root.js';

export const runHelp = `Usage: koala run [--sut NAME] [--mode record] [--agent-socket PATH] [--grpc-addr HOST:PORT] [options] -- CMD [ARGS...]

Runs CMD with the koala shim preloaded (LD_PRELOAD=<koala>/build/Release/koala_shim.so, prepended
to any existing LD_PRELOAD) and with KOALA_SUT_NAME, KOALA_AGENT_SOCKET, KOALA_AGENT_GRPC_ADDR
(so a Go binary built with koala go build finds the gateway too), KOALA_MODE and the other KOALA_*
options set. stdio is inherited, SIGTERM/SIGINT are forwarded, and koala exits with CMD's exit
code (128+signal if it was killed).

  --sut NAME                      The service's name in sessions [KOALA_SUT_NAME, default: CMD's base name].
${renderOptionHelp()}
  -h, --help                      Show this help.
`;

/** The environment the agents read, from the resolved config (what `koala run` passes on). */
export function agentEnv(config: KoalaConfig, sutName: string | undefined, base: NodeJS.ProcessEnv, shim: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const name of OPTION_NAMES) {
    const value = config[name];
    if (value === undefined) continue;
    env[OPTIONS[name].env] = formatOptionValue(name, value);
  }
  if (sutName !== undefined) env.KOALA_SUT_NAME = sutName;
  const existing = (base.LD_PRELOAD ?? '').split(/[\s:]+/).filter((p) => p !== '' && p !== shim);
  env.LD_PRELOAD = [shim, ...existing].join(':');
  return env;
}

export async function runCommand(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  const { values, positionals } = parseCommandArgs('run', own, { ...configFlagSpec(), sut: { type: 'string' } }, { positionals: true });
  if (values.help) {
    process.stdout.write(runHelp);
    return 0;
  }
  if (positionals.length > 0) throw usage(`run: put the command after --, e.g. koala run --sut NAME -- ${positionals.join(' ')}`);
  const command = dash >= 0 ? argv.slice(dash + 1) : [];
  if (command.length === 0) throw usage('run: missing the command to run after --');
  const sut = values.sut;
  if (sut !== undefined && (typeof sut !== 'string' || sut.trim() === '')) throw usage('run: --sut needs a non-empty NAME');

  const config = loadConfig({ env: process.env, flags: configFlags(values) });
  const shim = shimPath();
  if (!existsSync(shim)) {
    throw new KoalaError('KOALA_ERR_USAGE', `run: the koala shim is missing (${shim}); build it with \`npm install\` in the koala package`);
  }
  const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit', env: agentEnv(config, sut, process.env, shim) });
  const forward = (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  process.on('SIGTERM', forward);
  process.on('SIGINT', forward);
  return new Promise<number>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      process.stderr.write(`koala run: cannot start ${command[0]}: ${err.message}\n`);
      resolve(err.code === 'ENOENT' ? 127 : 126);
    });
    child.once('exit', (code, signal) => {
      process.off('SIGTERM', forward);
      process.off('SIGINT', forward);
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}
