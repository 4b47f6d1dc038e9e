/**
 * docs/exit-codes.md is the contract: every row of its "Checked cases" table is run as written and must exit
 * with the documented code, printing exactly one `netscope: …` line when it fails. NS is a namespace with a
 * bridge br0 created here; "(nobody)" rows run as user nobody (setpriv), which is how a non-root user sees it.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { cleanupPrefix, isRoot, sh, testPrefix } from '../helpers/netns';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'netscope');
const NS = testPrefix('ex');

interface Row {
  line: string;
  argv: string[];
  nobody: boolean;
  cls: string;
  code: number;
}

function documentedRows(): Row[] {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'exit-codes.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Checked cases'));
  const rows: Row[] = [];
  for (const m of section.matchAll(/^\| `netscope([^`]*)`( \(nobody\))? \| ([^|]+) \| (\d+) \|$/gm)) {
    rows.push({ line: `netscope${m[1]}${m[2] ?? ''}`, argv: m[1].trim() === '' ? [] : m[1].trim().split(/\s+/), nobody: m[2] !== undefined, cls: m[3].trim(), code: Number(m[4]) });
  }
  return rows;
}

const d = isRoot ? describe : describe.skip;

d('exit codes as documented in docs/exit-codes.md', () => {
  beforeAll(() => {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('run `npm run build` first');
    cleanupPrefix(NS);
    sh('ip', ['netns', 'add', NS]);
    sh('ip', ['-n', NS, 'link', 'add', 'br0', 'type', 'bridge']);
    // One port whose veth peer is in a second namespace, and a second bridge that --bridge must leave out.
    sh('ip', ['netns', 'add', `${NS}p`]);
    sh('ip', ['-n', NS, 'link', 'add', `${NS}v`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', `${NS}p`]);
    sh('ip', ['-n', NS, 'link', 'set', `${NS}v`, 'master', 'br0']);
    sh('ip', ['-n', NS, 'link', 'add', 'br1', 'type', 'bridge']);
  });
  afterAll(() => cleanupPrefix(NS));

  const rows = documentedRows();

  it('documents every class of error, in every command', () => {
    expect(rows.length).toBeGreaterThanOrEqual(35);
    const commands = new Set(rows.map((r) => r.argv[0]).filter((c) => c !== undefined));
    const all = fs.readdirSync(path.join(ROOT, 'src', 'cli', 'commands')).map((f) => f.replace(/\.ts$/, ''));
    expect([...commands].filter((c) => all.includes(c)).sort()).toEqual(all.sort());
    expect(new Set(rows.map((r) => r.code))).toEqual(new Set([1, 2]));
  });

  it('topo show --bridge --json holds only that bridge, its ports and their peers', () => {
    const r = spawnSync(BIN, ['topo', 'show', '--bridge', 'br0', '--netns', NS, '--json'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const topo = JSON.parse(r.stdout) as { namespaces: Array<{ id: string }>; interfaces: Array<{ netns: string; name: string }> };
    expect(topo.interfaces.map((i) => `${i.name}@${i.netns}`).sort()).toEqual([`br0@${NS}`, `eth0@${NS}p`, `${NS}v@${NS}`].sort());
    expect(topo.namespaces.map((n) => n.id).sort()).toEqual([NS, `${NS}p`]);
    const text = spawnSync(BIN, ['topo', 'show', '--bridge', 'br0', '--netns', NS], { encoding: 'utf8' });
    expect(text.stdout).toMatch(new RegExp(`br0 bridge[^\\n]*\\n.*${NS}v veth[^\\n]*\\n.*⇄ eth0 .*in namespace ${NS}p`));
    expect(text.stdout).not.toContain('br1');
    const none = spawnSync(BIN, ['topo', 'show', '--bridge', 'nosuchbr0', '--json'], { encoding: 'utf8' });
    expect(none.status).toBe(2);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(new RegExp(`^netscope: no bridge "nosuchbr0"; bridges: .*br0@${NS}`));
  });

  it.each(rows.map((r) => [r.line, r] as const))('%s', (_line, row) => {
    const argv = row.argv.map((a) => a.replace(/\bNS\b/g, NS));
    const cmd = row.nobody ? 'setpriv' : BIN;
    const args = row.nobody ? ['--reuid=65534', '--regid=65534', '--clear-groups', BIN, ...argv] : argv;
    const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', input: '', timeout: 30_000, env: { ...process.env, TZ: 'UTC' } });
    expect({ code: r.status, cls: row.cls }).toEqual({ code: row.code, cls: row.cls });
    expect(r.stderr).toMatch(/^netscope: [^\n]+\n$/);
    // No stack frame, no raw Node error ("ENOENT: no such file or directory, open …").
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+|E[A-Z]+: /);
  });
});
