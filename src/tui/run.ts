/**
 * Keeps a dashboard running until the user quits, and makes every way out restore the terminal and stop the
 * captures: q / Ctrl-C (keys), SIGINT / SIGTERM / SIGHUP (signals), and an unexpected exception (the screen is
 * torn down first so the error is readable, then `cleanup` runs, then the process exits 1).
 */
export interface Closable {
  readonly done: Promise<void>;
  close(): Promise<void>;
}

export async function runUntilQuit(dash: Closable, cleanup: () => Promise<void> = async () => undefined): Promise<void> {
  // Once: after a crash both the crash path and the normal path (dash.done resolved by close) reach it.
  let cleaning: Promise<void> | undefined;
  const cleanupOnce = (): Promise<void> => (cleaning ??= cleanup());
  const onSignal = (): void => void dash.close();
  const onCrash = (err: unknown): void => {
    void (async () => {
      await dash.close().catch(() => undefined);
      await cleanupOnce().catch(() => undefined);
      const detail = process.env.NETSCOPE_DEBUG ? (err as Error)?.stack : undefined;
      const msg = detail ?? (err instanceof Error ? err.message : String(err));
      process.stderr.write(`netscope: internal error, dashboard stopped: ${msg}\n`);
      process.exit(1);
    })();
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  try {
    await dash.done;
    await cleanupOnce();
  } finally {
    for (const s of signals) process.removeListener(s, onSignal);
    process.removeListener('uncaughtException', onCrash);
    process.removeListener('unhandledRejection', onCrash);
  }
}
