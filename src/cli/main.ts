import path from 'path';
import yargs from 'yargs';

/**
 * Entry point. Every command lives in its own module under ./commands (yargs command module:
 * command, describe, builder, handler), so commands are added without touching this file.
 */
export function main(argv: string[]): void {
  yargs(argv)
    .scriptName('netscope')
    .commandDir(path.join(__dirname, 'commands'), { extensions: ['js'], exclude: /\.d\.ts$|\.map$/ })
    .demandCommand(1, 'Name a command: netscope --help lists them.')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) {
        process.stderr.write(`netscope: ${err.message}\n`);
        process.exit(1);
      }
      process.stderr.write(`netscope: ${msg}\nRun "netscope --help" for usage.\n`);
      process.exit(2);
    })
    .parse();
}
