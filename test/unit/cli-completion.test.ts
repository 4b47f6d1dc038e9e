/** Completion analysis over the real command spec (the command modules' builders), line splitting, bash trims. */
import path from 'path';
import { analyse } from '../../src/cli/completion/analyse';
import { splitLine, trimForBash } from '../../src/cli/completion/line';
import { candidates } from '../../src/cli/completion/values';
import { collectSpec } from '../../src/cli/spec';

const spec = collectSpec(path.join(__dirname, '..', '..', 'src', 'cli', 'commands'));
const at = (line: string): ReturnType<typeof analyse> => {
  const words = splitLine(line);
  const cur = words.pop()!;
  return analyse(spec, words.slice(1), cur);
};

describe('analyse', () => {
  it('offers the commands first, not the hidden __complete', () => {
    const r = at('netscope ');
    expect(r.words).toEqual(expect.arrayContaining(['read', 'capture', 'topo', 'completion', 'diagnose']));
    expect(r.words).not.toContain('__complete');
  });
  it('offers subcommands of topo', () => expect(at('netscope topo ').words).toEqual(['apply', 'destroy', 'show']));
  it('offers a command\'s options and the global ones', () => {
    const r = at('netscope read --');
    expect(r.words).toEqual(expect.arrayContaining(['--flows', '--summary', '--count', '--color', '--help']));
    expect(at('netscope read -').words).toEqual(expect.arrayContaining(['-c', '-e', '--json']));
  });
  it('knows which option takes which live value', () => {
    expect(at('netscope capture -i ').kind).toBe('interface');
    expect(at('netscope capture --interface eth').kind).toBe('interface');
    expect(at('netscope capture -e -i ').kind).toBe('interface'); // -e is a flag: no value follows it
    expect(at('netscope rules --netns ').kind).toBe('netns');
    expect(at('netscope rules --netns node1 --chain ').given).toEqual({ netns: 'node1' });
    expect(at('netscope rules --chain ').kind).toBe('chain');
    expect(at('netscope fdb ').kind).toBe('bridge');
    expect(at('netscope topo show --bridge ').kind).toBe('bridge-name');
    expect(at('netscope topo apply ').kind).toBe('topology-file');
    expect(at('netscope read ').kind).toBe('capture-file');
    expect(at('netscope read x.pcap tcp ').kind).toBe('filter');
    expect(at('netscope diagnose pod-a ').kind).toBe('endpoint');
  });
  it('completes choices, also after "="', () => {
    expect(at('netscope read --sort ').words).toEqual(['packets', 'bytes', 'rate', 'start']);
    const r = at('netscope read --color=al');
    expect(r).toMatchObject({ lead: '--color=', prefix: 'al', words: ['auto', 'always', 'never'] });
    expect(at('netscope completion ').words).toEqual(['bash', 'zsh', 'fish']);
  });
});

describe('candidates', () => {
  it('keeps what starts with the prefix and puts the lead back', async () => {
    expect(await candidates(at('netscope read --color=al'))).toEqual(['--color=always']);
  });
  it('lists topology files and directories', async () => {
    const root = path.join(__dirname, '..', '..');
    const cwd = process.cwd();
    process.chdir(root);
    try {
      const c = await candidates(at('netscope topo apply examples/topology/'));
      expect(c).toContain('examples/topology/k8s-node.yaml');
      expect(c.every((f) => /\.(ya?ml|json)$|\/$/.test(f))).toBe(true);
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('splitLine / trimForBash', () => {
  it('splits like the shell', () => {
    expect(splitLine('netscope read "a b.pcap" ')).toEqual(['netscope', 'read', 'a b.pcap', '']);
    expect(splitLine("netscope read it\\'s")).toEqual(['netscope', 'read', "it's"]);
  });
  it('drops what bash will not replace (after ":" or "=")', () => {
    expect(trimForBash(['eth0@pid:12', 'eth0@pid:13'], 'eth0@pid:1', '"\'=:')).toEqual(['12', '13']);
    expect(trimForBash(['--color=always'], '--color=al', '=:')).toEqual(['always']);
    expect(trimForBash(['read'], 're', '=:')).toEqual(['read']);
  });
});
