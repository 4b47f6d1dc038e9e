/**
 * Runs a command under a pseudo-terminal with util-linux `script`, so its stdout and stderr are TTYs, and
 * collects what the terminal received (the pty turns "\n" into "\r\n"). `waitFor` resolves when the text seen so
 * far matches: tests wait for output, never for a fixed time.
 */
import { spawn, type ChildProcess } from 'child_process';

/** POSIX shell quoting for `script -c`, which takes one command string. */
export function shellQuote(args: string[]): string {
  return args.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export interface PtyRun {
  child: ChildProcess;
  /** Everything the terminal received so far. */
  text(): string;
  /** Resolves with the output once `re` matches it; rejects after `timeoutMs` of waiting or when the run ends. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (the command's: `script -e`) and all output. */
  done: Promise<{ code: number | null; out: string }>;
}

/** Starts `argv` under a pty (`script -qfec`), in `cwd`, with `env`. */
export function runInPty(argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): PtyRun {
  const child = spawn('script', ['-qfec', shellQuote(argv), '/dev/null'], {
    env: { ...(opts.env ?? process.env), COLUMNS: '100', LINES: '30' },
    cwd: opts.cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: { re: RegExp; resolve: (s: string) => void }[] = [];
  const check = (): void => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].re.test(out)) {
        waiters[i].resolve(out);
        waiters.splice(i, 1);
      }
    }
  };
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    check();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
    check();
  });
  const done = new Promise<{ code: number | null; out: string }>((resolve) => child.on('close', (code) => resolve({ code, out })));
  return {
    child,
    text: () => out,
    done,
    waitFor: (re, timeoutMs = 30_000) =>
      new Promise<string>((resolve, reject) => {
        if (re.test(out)) return resolve(out);
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${re} in: ${JSON.stringify(out.slice(-2000))}`)), timeoutMs);
        const w = {
          re,
          resolve: (s: string): void => {
            clearTimeout(t);
            resolve(s);
          },
        };
        waiters.push(w);
        void done.then(() => {
          if (waiters.includes(w)) {
            clearTimeout(t);
            waiters.splice(waiters.indexOf(w), 1);
            reject(new Error(`run ended before ${re} appeared: ${JSON.stringify(out.slice(-2000))}`));
          }
        });
      }),
  };
}
