import { pollEvery } from '../../src/host/poller';

describe('pollEvery', () => {
  test('reads never overlap, errors reach the sink, the sink can stop polling', async () => {
    let running = 0;
    let maxRunning = 0;
    let n = 0;
    const seen: Array<number | string> = [];
    const poll = pollEvery(
      5,
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 15)); // slower than the interval
        running--;
        n++;
        if (n === 2) throw new Error('host went away');
        return n;
      },
      (result, atSec) => {
        expect(atSec).toBeGreaterThan(1e9);
        seen.push(result instanceof Error ? result.message : result);
        return n < 4;
      },
    );
    await poll.done;
    expect(seen).toEqual([1, 'host went away', 3, 4]);
    expect(maxRunning).toBe(1);
  });

  test('stop() ends polling and resolves done', async () => {
    let reads = 0;
    const poll = pollEvery(1000, async () => ++reads, () => undefined);
    await new Promise((r) => setTimeout(r, 20));
    poll.stop();
    await poll.done;
    await new Promise((r) => setTimeout(r, 20));
    expect(reads).toBe(1);
  });
});
