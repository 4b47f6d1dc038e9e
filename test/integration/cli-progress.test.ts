/**
 * Progress lines end to end: under a real pseudo-terminal (script(1)) `read` of a 1M-packet file draws
 * "bytes/total %  packets  rate  ETA" at most 10 times a second and erases it before the report; in a pipe,
 * with --json or --no-progress nothing is drawn; Ctrl-C (a real ^C through the terminal) erases it too; `topo
 * apply` shows its steps. Tests wait for output, never for a fixed time.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { writeBenchFile } from '../../src/bench/read';
import { cleanupPrefix, isRoot, testPrefix } from '../helpers/netns';
import { runInPty } from '../helpers/pty';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'netscope');
const cmd = (...args: string[]): string[] => [process.execPath, BIN, ...args];
/** A progress draw: "\r" + text + erase-to-end-of-line. */
const DRAW = /\r([^\r\n\x1b]+)\x1b\[K/g;
const ERASE = '\r\x1b[K';

let tmp: string;
let big: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-progress-'));
  big = path.join(tmp, 'big.pcap');
  writeBenchFile(big, 1_000_000);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('read progress', () => {
  it('under a terminal: bytes of total, packets, rate, ETA; ≤ 10 redraws a second; erased before the report', async () => {
    const t0 = performance.now();
    const r = await runInPty(cmd('read', big, '--summary')).done;
    const elapsedMs = performance.now() - t0;
    expect(r.code).toBe(0);
    const draws = [...r.out.matchAll(DRAW)].map((m) => m[1]);
    expect(draws.length).toBeGreaterThanOrEqual(1);
    expect(draws[0]).toMatch(/^[\d.]+ [kMG]?B\/323 MB \d+%  \d+(\.\d+)?[kM]? packets  [\d.]+ [kMG]?B\/s( {2}ETA \d+:\d\d)?  .*big\.pcap$/);
    // The whole run took elapsedMs (more than the reading): at most one draw per 100 ms of it, plus the first.
    expect(draws.length).toBeLessThanOrEqual(Math.floor(elapsedMs / 100) + 1);
    // Erased, then the report on a clean line.
    const report = r.out.indexOf('packets    1000000');
    expect(report).toBeGreaterThan(0);
    expect(r.out.lastIndexOf(ERASE, report)).toBeGreaterThan(r.out.lastIndexOf('big.pcap\x1b[K', report));
  });

  it('also with --flows', async () => {
    const r = await runInPty(cmd('read', big, '--flows', '--top', '1')).done;
    expect(r.code).toBe(0);
    // (booleans: a failure must not print the whole flow report)
    expect(/\r[^\r]* packets .*big\.pcap\x1b\[K/.test(r.out)).toBe(true);
    expect(r.out.includes('Flows: ')).toBe(true);
  });

  it('never with --no-progress or --json, nor when stderr is a pipe', async () => {
    for (const extra of [['--no-progress'], ['--json']]) {
      const r = await runInPty(cmd('read', big, '--summary', ...extra)).done;
      expect(r.code).toBe(0);
      expect(r.out).not.toContain('\x1b[K');
    }
    const p = spawnSync(process.execPath, [BIN, 'read', big, '--summary'], { encoding: 'utf8' });
    expect(p.status).toBe(0);
    expect(p.stderr).toBe('');
    expect(p.stdout).not.toMatch(/\r|\x1b/);
  });

  it('Ctrl-C erases the line; the report covers what was read', async () => {
    const run = runInPty(cmd('read', big, '--summary'));
    await run.waitFor(/packets .*big\.pcap\x1b\[K/);
    run.child.stdin!.write('\x03'); // ^C typed at the terminal: SIGINT to its foreground process group
    const r = await run.done;
    // Reading may have finished before the ^C arrived on a fast machine: then it simply succeeded.
    if (r.code === 130) expect(r.out).toMatch(/interrupted after \d+ packets read; the report covers them/);
    else expect(r.code).toBe(0);
    const lastDraw = r.out.lastIndexOf('big.pcap\x1b[K');
    expect(r.out.indexOf(ERASE, lastDraw)).toBeGreaterThan(lastDraw);
    expect(r.out.slice(lastDraw)).toContain('packets    ');
  });
});

(isRoot ? describe : describe.skip)('topo apply progress', () => {
  const NAME = testPrefix('pg');
  afterAll(() => {
    spawnSync(process.execPath, [BIN, 'topo', 'destroy', '--name', NAME]);
    cleanupPrefix(`${NAME}-`);
  });
  it('shows the steps [i/n] on the terminal and erases them', async () => {
    const file = path.join(ROOT, 'examples', 'topology', 'veth-pair.yaml');
    const r = await runInPty(cmd('topo', 'apply', file, '--name', NAME, '--prefix', `${NAME}-`)).done;
    expect(r.code).toBe(0);
    const draws = [...r.out.matchAll(DRAW)].map((m) => m[1]);
    expect(draws.length).toBeGreaterThanOrEqual(1);
    expect(draws[draws.length - 1]).toMatch(/^\[(\d+)\/\1\] /); // the last step is always drawn
    const applied = r.out.indexOf('applied ');
    expect(r.out.lastIndexOf(ERASE, applied)).toBeGreaterThan(r.out.lastIndexOf(draws[draws.length - 1], applied));
  });
});
