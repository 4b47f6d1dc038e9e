/**
 * `npm run bench`: runs every benchmark module in this directory (each exports `run(): Promise<void>`),
 * or only those named on the command line (`npm run bench -- read flows`). Each prints its own numbers,
 * including the ratio to tcpdump measured in the same run.
 */
import fs from 'fs';
import path from 'path';

async function mainBench(): Promise<void> {
  const only = process.argv.slice(2);
  const mods = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.js') && f !== 'main.js' && !f.startsWith('_'))
    .map((f) => f.slice(0, -3))
    .filter((n) => only.length === 0 || only.includes(n))
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
