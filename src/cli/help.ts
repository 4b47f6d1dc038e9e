/**
 * Examples in `--help`: each one is a "# what it does" line followed by the whole command on its own line, so
 * the command is never wrapped in the middle (yargs' two-column layout cut long commands at narrow widths).
 */
import type { Argv } from 'yargs';

/** [command line after "netscope ", what it does]. Keep each command under 76 characters (fits 80 columns). */
export type Example = readonly [command: string, what: string];

export function addExamples<T>(y: Argv<T>, examples: readonly Example[]): Argv<T> {
  for (const [cmd, what] of examples) {
    if (what !== '') y.example(`# ${what}`, '');
    // A line that starts with a pipe producer ("cat x | …") is shown as written.
    y.example(cmd.includes('$0') ? cmd : `$0 ${cmd}`, '');
  }
  return y;
}
