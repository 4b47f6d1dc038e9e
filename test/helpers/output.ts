/** Runs a CLI handler in-process with its stdout/stderr writes collected instead of printed. */

export interface CapturedOutput {
  /** Everything written to stdout / stderr since captureOutput(), one entry per write. */
  out: string[];
  err: string[];
  /** Puts the real streams and the saved process.exitCode back. */
  restore(): void;
}

export function captureOutput(): CapturedOutput {
  const out: string[] = [];
  const err: string[] = [];
  const so = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
  const se = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (err.push(String(s)), true));
  const saved = process.exitCode;
  return {
    out,
    err,
    restore: () => {
      so.mockRestore();
      se.mockRestore();
      process.exitCode = saved;
    },
  };
}
