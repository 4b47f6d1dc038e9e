/**
 * `netscope completion bash|zsh|fish`: prints the shell's completion script (docs/cli.md).
 */
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { completionScript, SHELLS, type Shell } from '../completion/scripts';

interface CompletionArgs {
  shell: Shell;
}

export const command = 'completion <shell>';
export const describe = 'Print a shell completion script (commands, options, namespaces, interfaces, bridges, chains, files)';

export function builder(y: Argv): Argv<CompletionArgs> {
  return y
    .positional('shell', { choices: SHELLS, demandOption: true, describe: 'bash, zsh or fish' })
    .example('source <(netscope completion bash)', 'complete in this bash session')
    .example('netscope completion zsh > "${fpath[1]}/_netscope"', 'install for zsh')
    .example('netscope completion fish > ~/.config/fish/completions/netscope.fish', 'install for fish') as unknown as Argv<CompletionArgs>;
}

export function handler(argv: ArgumentsCamelCase<CompletionArgs>): void {
  process.stdout.write(completionScript(argv.shell));
}
