/**
 * The man pages `npm run build` writes (dist/man) render with man-db without a warning, and hold every option
 * `--help` prints for the same command (both come from the command modules' builders).
 */
import { execFileSync, spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'netscope');
const MAN = path.join(ROOT, 'dist', 'man');

function render(page: string): string {
  const r = spawnSync('man', ['--warnings', '-E', 'UTF-8', '-l', path.join(MAN, page)], {
    encoding: 'utf8',
    env: { ...process.env, LC_ALL: 'C.UTF-8', MANWIDTH: '100', MANPAGER: 'cat', PAGER: 'cat' },
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  // Overstrike (bold/underline by backspaces) off, for matching.
  return r.stdout.replace(/.\x08/g, '');
}

/** The long options `netscope ARGS --help` lists. */
function helpOptions(args: string[]): string[] {
  const help = execFileSync(process.execPath, [BIN, ...args, '--help'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '200' } });
  return [...new Set([...help.matchAll(/(?:^|\s)(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1]))];
}

const commands = (): string[] =>
  fs
    .readdirSync(MAN)
    .filter((f) => /^netscope-.+\.1$/.test(f))
    .map((f) => f.slice('netscope-'.length, -2));

beforeAll(() => {
  if (!fs.existsSync(path.join(MAN, 'netscope.1'))) throw new Error('dist/man is missing: run `npm run build` (it writes the man pages)');
});

describe('man pages', () => {
  it('there is one page per command (the hidden __complete aside)', () => {
    const help = execFileSync(process.execPath, [BIN, '--help'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '200' } });
    const listed = [...help.matchAll(/^\s+netscope ([a-z][a-z0-9-]*)/gm)].map((m) => m[1]).sort();
    expect(listed.length).toBeGreaterThan(5);
    expect(commands().sort()).toEqual(listed);
  });

  it('netscope(1) renders and names every command', () => {
    const text = render('netscope.1');
    for (const c of commands()) expect(text).toContain(`netscope-${c}(1)`);
    expect(text).toContain('NO_COLOR');
  });

  it.each(['read', 'capture', 'topo', 'diagnose', 'completion', 'replay', 'rules', 'fdb', 'watch', 'demo'])(
    'netscope-%s(1) renders without warnings and holds every option --help shows',
    (cmd) => {
      const text = render(`netscope-${cmd}.1`);
      const subs = cmd === 'topo' ? [['topo', 'apply'], ['topo', 'destroy'], ['topo', 'show']] : [[cmd]];
      for (const args of subs) {
        const opts = helpOptions(args).filter((o) => o !== '--version');
        expect(opts.length).toBeGreaterThan(1);
        for (const o of opts) expect(text).toContain(o);
      }
    },
  );
});
