/**
 * `netscope __complete SHELL WORDBREAKS LINE` (hidden): the candidates for the word at the end of LINE, one a
 * line, for the scripts of `netscope completion`. Never fails loudly: a broken lookup completes nothing.
 */
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { analyse } from '../completion/analyse';
import { splitLine, trimForBash } from '../completion/line';
import { candidates } from '../completion/values';
import { loadSpec } from '../spec';

interface CompleteArgs {
  shell: string;
  wordbreaks: string;
  line: string;
}

export const command = '__complete <shell> <wordbreaks> <line>';
export const describe = false;

export function builder(y: Argv): Argv<CompleteArgs> {
  return y
    .positional('shell', { type: 'string' })
    .positional('wordbreaks', { type: 'string' })
    .positional('line', { type: 'string' })
    .parserConfiguration({ 'parse-positional-numbers': false }) as unknown as Argv<CompleteArgs>;
}

export async function handler(argv: ArgumentsCamelCase<CompleteArgs>): Promise<void> {
  const words = splitLine(String(argv.line ?? ''));
  const cur = words.pop() ?? '';
  const req = analyse(loadSpec(), words.slice(1), cur);
  let out = await candidates(req);
  if (argv.shell === 'bash') out = trimForBash(out, cur, String(argv.wordbreaks ?? ''));
  if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
}
