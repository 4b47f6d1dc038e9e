/**
 * When `netscope read` shows progress (src/cli/progress.ts): reading a file (or stdin redirected from one), with
 * stderr a terminal, no --json, no --no-progress, and not while packet lines go to that same terminal.
 */
import fs from 'fs';
import path from 'path';
import { progressFor, ReadProgress, type ProgressWhen } from './progress';

export function readProgress(file: string, args: ProgressWhen, printing: boolean, packets: () => number): ReadProgress | undefined {
  // Packet lines on the terminal would be torn by a progress line; printed to a pipe or file they are not.
  if (printing && process.stdout.isTTY === true) return undefined;
  let size: number | undefined;
  try {
    const st = file === '-' ? fs.fstatSync(0) : fs.statSync(file);
    if (!st.isFile()) return undefined; // a pipe: no chunks to count here (readCapture streams it)
    size = st.size;
  } catch {
    return undefined;
  }
  const line = progressFor(args);
  return line && new ReadProgress(line, file === '-' ? 'stdin' : path.basename(file), size, packets);
}
