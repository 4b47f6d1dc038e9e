/**
 * `npm run bench`: runs every benchmark module in this directory (each exports `run(): Promise<void>`),
 * or only those named on the command line (`npm run bench -- read flows`). Each prints its own numbers,
 * including the ratio to tcpdump measured in the same run.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';

/** Every namespace a benchmark creates starts with this (capture: nsbench-cp, dashboard: nsbench-tu-*). */
const BENCH_NETNS = 'nsbench-';

/**
 * An interrupted run (Ctrl-C, or `npm run bench | head` closing the pipe) skips the benchmarks' finally
 * blocks: delete their namespaces here, synchronously, so nothing is left behind (processes inside a
 * namespace die with it or with this process group).
 */
function abandon(code: number): never {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of list.split('\n')) {
    const ns = line.split(' ')[0];
    if (ns.startsWith(BENCH_NETNS)) spawnSync('ip', ['netns', 'del', ns]);
  }
  process.exit(code);
}

process.on('SIGINT', () => abandon(130));
process.on('SIGTERM', () => abandon(143));
process.stdout.on('error', () => abandon(1));

/** Benchmarks that run only when named (the soak test takes 30 minutes). */
const OPT_IN = new Set(['soak']);

async function mainBench(): Promise<void> {
  const only = process.argv.slice(2);
  const mods = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.js') && f !== 'main.js' && !f.startsWith('_'))
    .map((f) => f.slice(0, -3))
    .filter((n) => (only.length === 0 && !OPT_IN.has(n)) || only.includes(n))
    .sort();
  for (const name of mods) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(__dirname, name)) as { run?: () => Promise<void> };
    if (typeof mod.run !== 'function') continue;
    process.stdout.write(`\n== bench: ${name} ==\n`);
    await mod.run();
  }
}

mainBench().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
