import fs from 'fs';
import path from 'path';
import yargs from 'yargs';
import type { Argv, CommandModule } from 'yargs';
import { colorOption, runtimeEndpointOption, setColorMode, type ColorMode } from './color';

const COMMANDS_DIR = path.join(__dirname, 'commands');

/** Subcommands of the commands that have them (for pointing a usage error at the right --help). */
const SUBCOMMANDS: Record<string, readonly string[]> = { topo: ['apply', 'destroy', 'show'] };

/** "netscope topo show" for `topo show --bogus`, "netscope" when no command was named. */
export function commandPath(argv: readonly string[], commands: readonly string[]): string {
  const words = ['netscope'];
  if (argv[0] !== undefined && commands.includes(argv[0])) {
    words.push(argv[0]);
    const sub = SUBCOMMANDS[argv[0]];
    if (sub !== undefined && argv[1] !== undefined && sub.includes(argv[1])) words.push(argv[1]);
  }
  return words.join(' ');
}

/** --version belongs to netscope itself, not to each command's options. */
function withoutVersion(mod: CommandModule): CommandModule {
  const build = mod.builder;
  return {
    ...mod,
    builder: (y: Argv) => (typeof build === 'function' ? (build(y) as Argv) : y.options(build ?? {})).version(false),
  };
}

function commandFiles(): string[] {
  return fs
    .readdirSync(COMMANDS_DIR)
    .filter((f) => f.endsWith('.js'))
    .map((f) => f.slice(0, -3));
}

/**
 * Entry point. Every command lives in its own module under ./commands, named after the command (yargs command
 * module: command, describe, builder, handler), so commands are added without touching this file.
 *
 * When the first argument names a command, only that module is loaded: loading them all costs ~200 ms of
 * startup (the dashboard pulls in blessed-contrib), which `netscope read --summary` on a big file would pay.
 */
export function main(argv: string[]): void {
  const y = yargs(argv).scriptName('netscope');
  const first = argv[0];
  const single = first && /^(__)?[a-z][a-z0-9-]*$/.test(first) && fs.existsSync(path.join(COMMANDS_DIR, `${first}.js`)) ? first : '';
  const names = single ? [single] : commandFiles();
  for (const name of names) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    y.command(withoutVersion(require(path.join(COMMANDS_DIR, name)) as CommandModule));
  }
  // Help text lines are cut at the terminal's width (COLUMNS when output is not a terminal).
  const width = process.stdout.columns || Number(process.env.COLUMNS) || 100;
  y.option('color', colorOption)
    .middleware((a) => setColorMode(a.color as ColorMode))
    .option('runtime-endpoint', runtimeEndpointOption)
    // Pod resolution reads the variable (src/k8s/pods.ts): the flag only overrides it, without loading anything here.
    .middleware((a) => {
      const e = a['runtime-endpoint'];
      if (typeof e === 'string' && e !== '') process.env.NETSCOPE_RUNTIME_ENDPOINT = e;
    })
    .demandCommand(1, 'name a command')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(120, Math.max(40, width)))
    .fail((msg, err) => {
      // yargs' own parse errors (YError: "Not enough arguments following: chain") are usage errors too.
      if (err && err.name !== 'YError') {
        process.stderr.write(`netscope: ${err.message}\n`);
        process.exit(1);
      }
      // yargs messages may span lines ("Invalid values:\n  Argument: …"): one line, then where help is.
      const problem = (msg ?? err?.message ?? 'bad arguments').split('\n').map((l) => l.trim()).filter((l) => l !== '').join(' ').replace(/\.$/, '');
      process.stderr.write(`netscope: ${problem}; see "${commandPath(argv, names)} --help"\n`);
      process.exit(2);
    })
    .parse();
}
