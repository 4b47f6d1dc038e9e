/**
 * One colour policy for every command, end to end: `topo show` (which colours interface states) under a real
 * pseudo-terminal and in a pipe, with --color auto|always|never and NO_COLOR.
 */
import { spawnSync } from 'child_process';
import path from 'path';
import { isRoot } from '../helpers/netns';
import { runInPty } from '../helpers/pty';

const BIN = path.join(__dirname, '..', '..', 'bin', 'netscope');
const ESC = /\x1b\[[0-9;]*m/;
const env = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm', ...extra };
  if (!('NO_COLOR' in extra)) delete e.NO_COLOR;
  return e;
};

async function inPty(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await runInPty([process.execPath, BIN, ...args], { env: env(extra) }).done;
  expect(r.code).toBe(0);
  expect(r.out).toContain('host');
  return r.out;
}

function inPipe(args: string[], extra: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: env(extra), encoding: 'utf8' });
  expect(r.status).toBe(0);
  expect(r.stdout).toContain('host');
  return r.stdout;
}

(isRoot ? describe : describe.skip)('--color and NO_COLOR', () => {
  const show = ['topo', 'show', '--netns', 'host'];
  it('a terminal gets colour by default', async () => expect(await inPty(show)).toMatch(ESC));
  it('NO_COLOR=1 on a terminal: no escape sequence at all', async () => {
    expect(await inPty(show, { NO_COLOR: '1' })).not.toMatch(/\x1b/);
  });
  it('--color never on a terminal: none', async () => expect(await inPty([...show, '--color', 'never'])).not.toMatch(/\x1b/));
  it('a pipe gets none by default', () => expect(inPipe(show)).not.toMatch(/\x1b/));
  it('--color always: colour in a pipe, and it overrides NO_COLOR', () => {
    expect(inPipe([...show, '--color', 'always'])).toMatch(ESC);
    expect(inPipe([...show, '--color=always'], { NO_COLOR: '1' })).toMatch(ESC);
  });
  it('--color with another value is a usage error (exit 2)', () => {
    const r = spawnSync(process.execPath, [BIN, ...show, '--color', 'rainbow'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--color rainbow: use auto, always or never');
  });
});
