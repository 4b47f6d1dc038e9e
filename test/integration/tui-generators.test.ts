import fs from 'fs';
import { GeneratorSet } from '../../src/demo/generators';

const alive = (pid: number): boolean => {
  try {
    // A zombie still answers kill(0); check /proc for a running state instead.
    return !/^\S+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('GeneratorSet (demo traffic processes)', () => {
  it('reaps every process on stop, SIGKILL after the grace period for one that ignores SIGTERM', async () => {
    const exits: string[] = [];
    const set = new GeneratorSet((label, why) => exits.push(`${label}: ${why}`));
    set.start({ label: 'sleeper', netns: '', argv: ['sleep', '30'] });
    set.start({ label: 'stubborn', netns: '', argv: ['sh', '-c', 'trap "" TERM; while :; do sleep 0.1; done'] });
    await new Promise((r) => setTimeout(r, 300));
    const pids = set.pids;
    expect(pids).toHaveLength(2);
    for (const p of pids) expect(alive(p)).toBe(true);
    const t0 = Date.now();
    await set.stop(500);
    expect(Date.now() - t0).toBeLessThan(5000);
    for (const p of pids) expect(alive(p)).toBe(false);
    expect(exits).toEqual([]); // stopping is not reported as a failure
  });

  it('reports a generator that stops on its own, with its last error line', async () => {
    const exits: string[] = [];
    const set = new GeneratorSet((label, why) => exits.push(`${label}: ${why}`));
    set.start({ label: 'broken', netns: '', argv: ['sh', '-c', 'echo "no route to host" >&2; exit 3'] });
    const until = Date.now() + 5000;
    while (exits.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(exits).toEqual(['broken: exit code 3: no route to host']);
    await set.stop();
  });
});
