/** The one check every command that reads a capture file makes before opening it (read, replay). */
import fs from 'fs';

/** Checks that FILE can be opened as a file, so a typo gives one clear line rather than a stream error. */
export function checkInput(file: string): string | undefined {
  if (file === '-') return undefined;
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `${file}: no such file`;
    if (code === 'EACCES') return `${file}: permission denied`;
    return `${file}: cannot open: ${(e as Error).message}`;
  }
  if (st.isDirectory()) return `${file}: is a directory, not a capture file`;
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch {
    return `${file}: permission denied`;
  }
  return undefined;
}
