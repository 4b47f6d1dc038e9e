import fs from 'fs';
import path from 'path';
import yargs from 'yargs';
import type { CommandModule } from 'yargs';
import { colorOption, setColorMode, type ColorMode } from './color';

const COMMANDS_DIR = path.join(__dirname, 'commands');

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
  const single = first && /^(__)?[a-z][a-z0-9-]*$/.test(first) ? path.join(COMMANDS_DIR, `${first}.js`) : '';
  if (single && fs.existsSync(single)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    y.command(require(single) as CommandModule);
  } else {
    y.commandDir(COMMANDS_DIR, { extensions: ['js'], exclude: /\.d\.ts$|\.map$/ });
  }
  y.option('color', colorOption)
    .middleware((a) => setColorMode(a.color as ColorMode))
    .demandCommand(1, 'Name a command: netscope --help lists them.')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((msg, err) => {
      // yargs wraps its parse errors (a coerce function's too) in YError: those are usage errors.
      if (err && err.name !== 'YError') {
        process.stderr.write(`netscope: ${err.message}\n`);
        process.exit(1);
      }
      process.stderr.write(`netscope: ${msg ?? err?.message}\nRun "netscope --help" for usage.\n`);
      process.exit(2);
    })
    .parse();
}
