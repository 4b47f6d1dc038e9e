/**
 * Polls a host reader at a fixed interval for `--watch` views and the dashboard. Reads never overlap: the next
 * one is scheduled when the previous has finished, so a slow host (many namespaces, a huge ruleset) slows the
 * refresh instead of piling up child processes.
 */
export interface Poll {
  stop(): void;
  /** Resolves when polling has stopped (stop() called, or the sink asked to stop by returning false). */
  readonly done: Promise<void>;
}

/**
 * Calls `read` now and then every `intervalMs` after each read completes; hands each result (or error) to
 * `sink`. The sink returns false to stop polling.
 */
export function pollEvery<T>(intervalMs: number, read: () => Promise<T>, sink: (result: T | Error, atSec: number) => boolean | void): Poll {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    if (timer) clearTimeout(timer);
    finish();
  };
  const tick = async (): Promise<void> => {
    if (stopped) return;
    let result: T | Error;
    try {
      result = await read();
    } catch (err) {
      result = err instanceof Error ? err : new Error(String(err));
    }
    if (stopped) return;
    const atSec = Date.now() / 1000;
    if (sink(result, atSec) === false) return stop();
    timer = setTimeout(() => void tick(), intervalMs);
  };
  void tick();
  return { stop, done };
}
