/**
 * `netscope completion bash` for real: bash sources the printed script and calls its function with COMP_WORDS
 * set, as bash does on TAB; the candidates must include the interfaces of a namespace this test creates.
 */
import { execFileSync, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { cleanupPrefix, isRoot, sh, testPrefix } from '../helpers/netns';

const BIN = path.join(__dirname, '..', '..', 'bin', 'netscope');
const P = testPrefix('cp');
const NS = `${P}node`;
let bindir: string;

/** COMPREPLY after completing the last of `words` (the cursor at its end), in a bash that sourced the script. */
function complete(words: string[], line?: string): string[] {
  const script = [
    'source <(netscope completion bash)',
    `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
    `COMP_CWORD=${words.length - 1}`,
    line === undefined ? 'unset COMP_LINE COMP_POINT' : `COMP_LINE='${line}'; COMP_POINT=${line.length}`,
    '_netscope_complete',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${bindir}:${process.env.PATH}` },
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout.split('\n').filter((l) => l !== '');
}

beforeAll(() => {
  bindir = fs.mkdtempSync(path.join(os.tmpdir(), 'netscope-completion-'));
  fs.symlinkSync(BIN, path.join(bindir, 'netscope'));
  if (!isRoot) return;
  cleanupPrefix(P);
  sh('ip', ['netns', 'add', NS]);
  sh('ip', ['-n', NS, 'link', 'add', `${P}a`, 'type', 'veth', 'peer', 'name', `${P}b`]);
  sh('ip', ['-n', NS, 'link', 'add', `${P}br`, 'type', 'bridge']);
});

afterAll(() => {
  if (isRoot) cleanupPrefix(P);
  if (bindir) fs.rmSync(bindir, { recursive: true, force: true });
});

(isRoot ? describe : describe.skip)('bash completion', () => {
  it('capture -i lists the interfaces of a test namespace as IFACE@NETNS', () => {
    const c = complete(['netscope', 'capture', '-i', '']);
    expect(c).toEqual(expect.arrayContaining([`${P}a@${NS}`, `${P}b@${NS}`, `${P}br@${NS}`, `lo@${NS}`, 'lo']));
  });
  it('after "@" (a bash word break), only that namespace, and only the part after "@"', () => {
    const typed = `netscope capture -i ${P}a@${NS.slice(0, -1)}`;
    const c = complete(['netscope', 'capture', '-i', `${P}a`, '@', NS.slice(0, -1)], typed);
    expect(c).toEqual([NS]);
  });
  it('fdb lists bridges only', () => {
    const c = complete(['netscope', 'fdb', '']);
    expect(c).toContain(`${P}br@${NS}`);
    expect(c).not.toContain(`${P}a@${NS}`);
  });
  it('--netns lists namespaces', () => expect(complete(['netscope', 'rules', '--netns', P])).toEqual([NS]));
  it('subcommands and options', () => {
    expect(complete(['netscope', 'to'])).toEqual(['topo']);
    expect(complete(['netscope', 'read', '--su'])).toEqual(['--summary']);
  });
  it('a value after "=" (a bash word break) completes only the part after it', () => {
    expect(complete(['netscope', 'read', '--color', '=', 'al'], 'netscope read --color=al')).toEqual(['always']);
  });
  it('completion zsh and fish print their scripts, and an unknown shell is a usage error', () => {
    expect(execFileSync(BIN, ['completion', 'zsh'], { encoding: 'utf8' })).toContain('compdef _netscope netscope');
    expect(execFileSync(BIN, ['completion', 'fish'], { encoding: 'utf8' })).toContain('complete -c netscope');
    expect(spawnSync(BIN, ['completion', 'tcsh']).status).toBe(2);
  });
});
