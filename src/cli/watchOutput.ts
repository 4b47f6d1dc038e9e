/**
 * Terminal plumbing shared by the `--watch` views of `netscope fdb` and `netscope rules`: colouring, the
 * refresh header's time stamp, redrawing the screen, and running a poll until Ctrl-C or SIGTERM.
 * (Kept out of src/cli/commands: every module there is loaded as a command.)
 */
import type { Poll } from '../host/poller';

const ESC = '\x1b[';

export { paint } from './color';

/** Epoch seconds → "YYYY-MM-DD HH:MM:SS" (UTC) for a refresh header. */
export function watchStamp(atSec: number): string {
  return new Date(atSec * 1000).toISOString().replace('T', ' ').slice(0, 19);
}

/** Writes one refresh: on a terminal over the previous one (home + clear), else after a blank line. */
export function redraw(lines: string[]): void {
  process.stdout.write(`${process.stdout.isTTY ? `${ESC}H${ESC}2J` : '\n'}${lines.join('\n')}\n`);
}

/** Resolves when `poll` has stopped; SIGINT/SIGTERM stop it (and end the command normally). */
export async function pollUntilSignal(poll: Poll): Promise<void> {
  const onSignal = (): void => poll.stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  await poll.done;
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
}
