/** `koala go flags|build`: dispatches to src/cli/go-build.ts (owned by the Go hooks work). */
import { goBuild, goFlags } from '../go-build.js';
import { usage } from '../cli-args.js';

export const goHelp = `Usage:
  koala go flags [--json]        Print the go build flags (-tags koala_go,... -overlay FILE) for the Go on PATH.
  koala go build [ARGS...]       Run go build with those flags plus ARGS.
`;

export async function goCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(goHelp);
    return sub === undefined ? 2 : 0;
  }
  if (sub === 'flags') {
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(goHelp);
      return 0;
    }
    const extra = rest.filter((a) => a !== '--json');
    if (extra.length > 0) throw usage(`go flags: unexpected argument ${extra[0]}`);
    const flags = await goFlags({ cwd: process.cwd() });
    process.stdout.write(rest.includes('--json') ? `${JSON.stringify(flags)}\n` : `${flags.args.map(shellQuote).join(' ')}\n`);
    return 0;
  }
  if (sub === 'build') {
    if (rest[0] === '--help' || rest[0] === '-h') {
      process.stdout.write(goHelp);
      return 0;
    }
    return goBuild(rest, { cwd: process.cwd() });
  }
  throw usage(`go: unknown subcommand "${sub}" (flags or build)`);
}

function shellQuote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}
