/**
 * A fake terminal for running the dashboard without one: an output stream that claims to be a TTY of fixed
 * size (blessed sizes the screen from it) and discards the escape sequences, and an input stream keys can be
 * written to. Used by the render tests and by `netscope demo --no-ui`, which prints the screen as text.
 */
import { PassThrough } from 'stream';

export interface HeadlessTerminal {
  output: PassThrough & { columns: number; rows: number; isTTY: true };
  input: PassThrough & { isTTY: true; setRawMode(raw: boolean): void };
}

export function headlessTerminal(columns: number, rows: number): HeadlessTerminal {
  const output = Object.assign(new PassThrough(), { columns, rows, isTTY: true as const });
  output.resume();
  const input = Object.assign(new PassThrough(), { isTTY: true as const, setRawMode: (): void => undefined });
  return { output, input };
}
