import fs from 'fs';
import path from 'path';
import yargs from 'yargs';
import type { CommandModule } from 'yargs';

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
  const single = first && /^[a-z][a-z0-9-]*$/.test(first) ? path.join(COMMANDS_DIR, `${first}.js`) : '';
  if (single && fs.existsSync(single)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    y.command(require(single) as CommandModule);
  } else {
    y.commandDir(COMMANDS_DIR, { extensions: ['js'], exclude: /\.d\.ts$|\.map$/ });
  }
  y.option('runtime-endpoint', {
    type: 'string',
    global: true,
    requiresArg: true,
    describe: 'container runtime (CRI) socket for pod names, e.g. unix:///run/containerd/containerd.sock (env NETSCOPE_RUNTIME_ENDPOINT)',
  })
    // Pod resolution reads the variable (src/k8s/pods.ts): the flag only overrides it, without loading anything here.
    .middleware((a) => {
      const e = a['runtime-endpoint'];
      if (typeof e === 'string' && e !== '') process.env.NETSCOPE_RUNTIME_ENDPOINT = e;
    })
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
