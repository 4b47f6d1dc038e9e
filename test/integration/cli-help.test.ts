/**
 * What `--help` and usage errors print, for every command: examples whole on one line (never wrapped in the
 * middle of a command) at 80 columns, files they name exist, --version only at the top level, one hint per
 * usage error and it names the command's own help.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import type { Example } from '../../src/cli/help';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'netscope');
// Hidden commands (__complete, called by the completion scripts) have no help page to hold examples.
const COMMANDS = fs.readdirSync(path.join(ROOT, 'src', 'cli', 'commands')).map((f) => f.replace(/\.ts$/, '')).filter((c) => !c.startsWith('__')).sort();

function netscope(args: string[], columns = 80): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(BIN, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, COLUMNS: String(columns) } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** [help argv, examples] for every command and subcommand that has examples. */
function helpPages(): Array<[string[], readonly Example[]]> {
  const pages: Array<[string[], readonly Example[]]> = [];
  for (const c of COMMANDS) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(ROOT, 'src', 'cli', 'commands', c)) as { examples?: readonly Example[]; subcommandExamples?: Record<string, readonly Example[]> };
    if (mod.examples) pages.push([[c, '--help'], mod.examples]);
    for (const [sub, ex] of Object.entries(mod.subcommandExamples ?? {})) pages.push([[c, sub, '--help'], ex]);
  }
  return pages;
}

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('run `npm run build` first');
});

describe('netscope help', () => {
  const pages = helpPages();

  it('every command has examples', () => {
    expect(pages.map(([argv]) => argv[0]).filter((c, i, a) => a.indexOf(c) === i).sort()).toEqual(COMMANDS);
  });

  it.each(pages.map(([argv, ex]) => [argv.join(' '), argv, ex] as const))('%s: each example is one whole line at 80 columns', (_n, argv, examples) => {
    const r = netscope(argv, 80);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n').map((l) => l.trim());
    for (const [cmd, what] of examples) {
      const shown = cmd.includes('$0') ? cmd.replace('$0', 'netscope') : `netscope ${cmd}`;
      expect(shown.length).toBeLessThanOrEqual(76);
      expect(lines).toContain(shown);
      if (what !== '') expect(lines).toContain(`# ${what}`);
    }
    expect(r.stdout.split('\n').every((l) => l.length <= 80)).toBe(true);
  });

  it('files named in examples exist (fixtures/, examples/)', () => {
    const named = pages.flatMap(([, ex]) => ex.flatMap(([cmd]) => cmd.split(/\s+/).filter((w) => /^(fixtures|examples)\//.test(w))));
    expect(named.length).toBeGreaterThan(0);
    for (const f of named) expect([f, fs.existsSync(path.join(ROOT, f))]).toEqual([f, true]);
  });

  it('--version is an option of netscope only, not of every command', () => {
    expect(netscope(['--help']).stdout).toMatch(/--version/);
    expect(netscope(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    for (const argv of [...COMMANDS.map((c) => [c, '--help']), ['topo', 'show', '--help'], ['topo', 'apply', '--help']]) {
      const r = netscope(argv);
      expect([argv.join(' '), r.code, r.stdout.includes('--version')]).toEqual([argv.join(' '), 0, false]);
    }
  });

  it('a usage error is one line naming the problem and the help of the command it is about', () => {
    const cases: Array<[string[], string, RegExp]> = [
      [[], 'netscope', /name a command/],
      [['rules', '--bogus'], 'netscope rules', /Unknown argument: bogus/],
      [['rules', '--chain'], 'netscope rules', /Not enough arguments following: chain/],
      [['topo', 'show', '--bogus'], 'netscope topo show', /Unknown argument: bogus/],
      [['topo'], 'netscope topo', /name an action: apply, destroy or show/],
      [['read', 'x.pcap', '--sort', 'zz'], 'netscope read', /Invalid values: Argument: sort, Given: "zz"/],
    ];
    for (const [argv, cmd, problem] of cases) {
      const r = netscope(argv);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n')).toHaveLength(2); // one line and its newline
      expect(r.stderr).toMatch(problem);
      expect(r.stderr).toMatch(new RegExp(`; see "${cmd} --help"\\n$`));
    }
  });
});
