/**
 * `npm run bench -- diagnose`: how long one diagnosis takes on the healthy example (bridged pod → pod), with
 * nftables tracing and without, next to the bare probe (`ping -c 2 -i 0.2` in the same namespace) measured in
 * the same run. Target: one diagnosis under 5 s. Needs root; builds its namespaces (nsbench-dg-*) and removes
 * them.
 */
import { execFileSync } from 'child_process';
import os from 'os';
import path from 'path';
import { diagnose } from '../diagnose/diagnose';
import { executePlan } from '../topology/apply';
import { planApply, planDestroy } from '../topology/lifecycle';
import { loadTopologyFile } from '../topology/schema';

const NAME = 'nsbench-dg';
const RUNS = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

export async function run(): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    process.stdout.write('diagnose: skipped (needs root)\n');
    return;
  }
  const spec = loadTopologyFile(path.join(__dirname, '..', '..', 'examples', 'diagnose', 'healthy.yaml'));
  spec.name = NAME;
  await executePlan(await planApply(spec, { prefix: `${NAME}-` }));
  try {
    const from = `${NAME}-pod-a`;
    const to = `${NAME}-pod-b`;
    const ping: number[] = [];
    const traced: number[] = [];
    const plain: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      let t = Date.now();
      execFileSync('ip', ['netns', 'exec', from, 'ping', '-n', '-q', '-c', '2', '-i', '0.2', '-W', '1', '10.244.1.3'], { stdio: 'ignore' });
      ping.push(Date.now() - t);
      t = Date.now();
      const a = await diagnose({ from, to });
      traced.push(Date.now() - t);
      if (!a.verdict.connected) throw new Error(`healthy path not connected: ${a.verdict.summary}`);
      t = Date.now();
      await diagnose({ from, to, trace: false });
      plain.push(Date.now() - t);
    }
    const [load1] = os.loadavg();
    const p = median(ping);
    process.stdout.write(
      `diagnose healthy bridged path, median of ${RUNS} (load average ${load1.toFixed(2)}):\n` +
        `  with nft tracing   ${median(traced)} ms  (${(median(traced) / p).toFixed(1)}× the bare ping)  target < 5000 ms: ${median(traced) < 5000 ? 'ok' : 'MISSED'}\n` +
        `  counters only      ${median(plain)} ms  (${(median(plain) / p).toFixed(1)}× the bare ping)\n` +
        `  bare ping -c 2     ${p} ms\n`,
    );
  } finally {
    await executePlan(await planDestroy(NAME)).catch(() => 0);
  }
}
