/**
 * One progress line on stderr for long work (`read` of files, `replay`, `topo apply`, `diagnose`): only when
 * stderr is a terminal, never with --json or --no-progress; redrawn at most 10 times a second (the caller may
 * call update() per chunk: the clock check is all it costs); erased when done, on exit and on Ctrl-C, so the
 * command's own output and the shell prompt start on a clean line.
 */

/** `--no-progress` (yargs turns the negation of a boolean into false). */
export const progressOption = {
  type: 'boolean',
  default: true,
  describe: 'a progress line on stderr when it is a terminal (--no-progress: none)',
} as const;

/** The stream a progress line is drawn on (stderr; tests pass their own). */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): boolean;
}

export interface ProgressWhen {
  /** --progress (default true); false = --no-progress. */
  progress?: boolean;
  json?: boolean;
}

/** Whether a command with these arguments draws progress on `stream`. */
export function wantProgress(args: ProgressWhen, stream: ProgressStream = process.stderr): boolean {
  return args.progress !== false && args.json !== true && stream.isTTY === true && process.env.TERM !== 'dumb';
}

/** Minimum time between redraws: 10 per second at most. */
export const REDRAW_MS = 100;

export class ProgressLine {
  private last = -Infinity;
  private shown = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly onExit = (): void => this.clear();
  private readonly onSigint = (): void => {
    this.clear();
    // Listening for SIGINT replaces node's default (exit): when nobody else listens, exit the usual way.
    process.off('SIGINT', this.onSigint);
    if (process.listenerCount('SIGINT') === 0) process.kill(process.pid, 'SIGINT');
  };

  constructor(
    private readonly stream: ProgressStream = process.stderr,
    private readonly now: () => number = () => performance.now(),
  ) {
    // Whatever ends the process (an error, process.exit after a second Ctrl-C) leaves no half line behind.
    process.on('exit', this.onExit);
    // Ctrl-C: erase at once; the command's own handler decides what happens next.
    process.prependListener('SIGINT', this.onSigint);
  }

  /** Redraws with text() unless the last redraw was under REDRAW_MS ago; `force` redraws now (a new step). */
  update(text: () => string, force = false): void {
    if (this.closed) return;
    const t = this.now();
    if (!force && t - this.last < REDRAW_MS) return;
    this.last = t;
    // A pty may report 0 columns (script(1) without a size): assume 80.
    const width = Math.max(20, (this.stream.columns || 80) - 1);
    let s = text();
    if (s.length > width) s = `${s.slice(0, width - 1)}…`;
    // Carriage return, the line, erase to its end: one write, no flicker, no scrolling.
    this.stream.write(`\r${s}\x1b[K`);
    this.shown = true;
  }

  /**
   * Redraws text() every `ms` (≥ REDRAW_MS) from a timer, for work that reports no steps of its own (waiting on
   * probes, a replay): elapsed time keeps moving. The timer never keeps the process alive.
   */
  every(text: () => string, ms = 250): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.update(text, true);
    this.timer = setInterval(() => this.update(text, true), Math.max(REDRAW_MS, ms));
    this.timer.unref();
  }

  /** Erases the line (it may be drawn again by update()). */
  clear(): void {
    if (!this.shown) return;
    this.stream.write('\r\x1b[K');
    this.shown = false;
  }

  /** Erases the line and stops drawing; safe to call twice. */
  done(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
    this.closed = true;
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSigint);
  }
}

/** A ProgressLine when `args` and stderr call for one, else undefined (nothing to do per update). */
export function progressFor(args: ProgressWhen, stream: ProgressStream = process.stderr): ProgressLine | undefined {
  return wantProgress(args, stream) ? new ProgressLine(stream) : undefined;
}

/** 1234567 → "1.2 MB". */
export function bytesText(n: number): string {
  if (n < 1000) return `${n} B`;
  const u = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < u.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${u[i]}`;
}

/** 1234567 → "1.2M". */
export function countText(n: number): string {
  if (n < 10_000) return String(n);
  if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e5 ? 1 : 0)}k`;
  return `${(n / 1e6).toFixed(n < 1e7 ? 2 : 1)}M`;
}

/** Seconds → "0:07", "3:25", "1:02:03". */
export function durationText(sec: number): string {
  const s = Math.max(0, Math.round(sec));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(r).padStart(2, '0')}`;
}

/**
 * Progress of reading a capture: bytes of the total (when the input is a file of known size), packets, rate,
 * ETA. `tick(bytesRead)` is called per chunk read.
 */
export class ReadProgress {
  private readonly t0: number;

  constructor(
    private readonly line: ProgressLine,
    private readonly name: string,
    private readonly totalBytes: number | undefined,
    private readonly packets: () => number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.t0 = now();
  }

  tick(bytesRead: number): void {
    this.line.update(() => this.text(bytesRead));
  }

  text(bytesRead: number): string {
    const sec = Math.max(1e-3, (this.now() - this.t0) / 1000);
    const rate = bytesRead / sec;
    const parts: string[] = [];
    if (this.totalBytes !== undefined && this.totalBytes > 0) {
      const pct = Math.min(100, (bytesRead / this.totalBytes) * 100);
      parts.push(`${bytesText(bytesRead)}/${bytesText(this.totalBytes)} ${pct.toFixed(0)}%`);
    } else {
      parts.push(bytesText(bytesRead));
    }
    parts.push(`${countText(this.packets())} packets`, `${bytesText(rate)}/s`);
    if (this.totalBytes !== undefined && rate > 0 && bytesRead < this.totalBytes) {
      parts.push(`ETA ${durationText((this.totalBytes - bytesRead) / rate)}`);
    }
    // The most useful first: a narrow terminal cuts the name, not the numbers.
    return `${parts.join('  ')}  ${this.name}`;
  }

  done(): void {
    this.line.done();
  }
}
