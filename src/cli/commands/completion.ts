/**
 * `netscope completion bash|zsh|fish`: prints the shell's completion script (docs/cli.md).
 */
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { completionScript, SHELLS, type Shell } from '../completion/scripts';
import { addExamples, type Example } from '../help';

interface CompletionArgs {
  shell: Shell;
}

export const command = 'completion <shell>';
export const describe = 'Print a shell completion script (commands, options, namespaces, interfaces, bridges, chains, files)';

export function builder(y: Argv): Argv<CompletionArgs> {
  y
    .positional('shell', { choices: SHELLS, demandOption: true, describe: 'bash, zsh or fish' });
  return addExamples(y, examples) as unknown as Argv<CompletionArgs>;
}

export const examples: readonly Example[] = [
  ['source <($0 completion bash)', 'complete in this bash session'],
  ['$0 completion zsh > "${fpath[1]}/_netscope"', 'install for zsh'],
  ['$0 completion fish > ~/.config/fish/completions/netscope.fish', 'install for fish'],
];

export function handler(argv: ArgumentsCamelCase<CompletionArgs>): void {
  process.stdout.write(completionScript(argv.shell));
}
