/**
 * runUntilQuit: every way out closes the dashboard (terminal restored) and runs the owner's cleanup (the demo's
 * teardown). An unexpected error is delivered the way Node delivers it, as an 'uncaughtException' event.
 */
import { runUntilQuit, type Closable } from '../../src/tui/run';

function fakeDashboard(): Closable & { closed: number; quit(): void } {
  let resolve: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolve = r));
  const d = {
    closed: 0,
    done,
    close: async (): Promise<void> => {
      d.closed++;
      resolve();
    },
    quit: () => void d.close(),
  };
  return d;
}

describe('runUntilQuit', () => {
  it('q: resolves after cleanup and removes its handlers', async () => {
    const d = fakeDashboard();
    const cleanup = jest.fn(async () => undefined);
    const before = process.listenerCount('uncaughtException');
    const running = runUntilQuit(d, cleanup);
    expect(process.listenerCount('uncaughtException')).toBe(before + 1);
    d.quit();
    await running;
    expect(cleanup).toHaveBeenCalledTimes(1);
    expect(process.listenerCount('uncaughtException')).toBe(before);
    expect(process.listenerCount('SIGTERM')).toBe(0);
  });

  it('SIGTERM closes the dashboard', async () => {
    const d = fakeDashboard();
    const running = runUntilQuit(d);
    process.emit('SIGTERM', 'SIGTERM');
    await running;
    expect(d.closed).toBe(1);
  });

  it('an internal error: dashboard closed first, then cleanup, one line on stderr, exit 1', async () => {
    const d = fakeDashboard();
    const order: string[] = [];
    const origClose = d.close;
    d.close = async () => {
      order.push('close');
      await origClose();
    };
    const exited = new Promise<number | undefined>((resolve) => {
      jest.spyOn(process, 'exit').mockImplementation(((code?: number) => {
        resolve(code);
        return undefined as never;
      }) as typeof process.exit);
    });
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const running = runUntilQuit(d, async () => void order.push('cleanup'));
      (process.emit as (event: string, ...args: unknown[]) => boolean)('uncaughtException', new Error('boom in a timer'), 'uncaughtException');
      expect(await exited).toBe(1);
      await running;
      expect(order).toEqual(['close', 'cleanup']);
      expect(stderr).toHaveBeenCalledWith('netscope: internal error, dashboard stopped: boom in a timer\n');
    } finally {
      jest.restoreAllMocks();
    }
  });
});
