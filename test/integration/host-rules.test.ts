import { RuleDeltas, readRules, type RuleCounter } from '../../src/host/rules';
import { handler as rulesHandler } from '../../src/cli/commands/rules';
import { cleanupPrefix, isRoot, nsExec, sh, testPrefix, tryRun } from '../helpers/netns';
import { captureOutput } from '../helpers/output';

const P = testPrefix('ru');
const NODE = `${P}n`;
const LEGACY = `${P}l`;
const BR = `${P}br`;
const A = { ns: `${P}a`, port: `${P}pa`, ip: '10.244.172.1' };
const B = { ns: `${P}b`, port: `${P}pb`, ip: '10.244.172.2' };
const DROP_SPEC = `-s ${A.ip}/32 -d ${B.ip}/32 -p icmp -j DROP`;
const NFT_TABLE = `${P}t`;
const d = isRoot ? describe : describe.skip;

const byText = (rules: RuleCounter[], text: string): RuleCounter => {
  const r = rules.find((x) => x.text === text);
  if (!r) throw new Error(`rule "${text}" not found in ${rules.map((x) => x.text).join(' | ')}`);
  return r;
};

d('netscope rules on real namespaces', () => {
  beforeAll(() => {
    cleanupPrefix(P);
    sh('ip', ['netns', 'add', NODE]);
    sh('ip', ['-n', NODE, 'link', 'add', BR, 'type', 'bridge']);
    sh('ip', ['-n', NODE, 'link', 'set', BR, 'up']);
    for (const pod of [A, B]) {
      sh('ip', ['netns', 'add', pod.ns]);
      sh('ip', ['-n', NODE, 'link', 'add', pod.port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.ns]);
      sh('ip', ['-n', NODE, 'link', 'set', pod.port, 'master', BR, 'up']);
      sh('ip', ['-n', pod.ns, 'addr', 'add', `${pod.ip}/24`, 'dev', 'eth0']);
      sh('ip', ['-n', pod.ns, 'link', 'set', 'eth0', 'up']);
    }
    // br_netfilter hands bridged IPv4 to iptables FORWARD of the bridge's namespace only when this is 1.
    if (nsExec(NODE, 'sysctl', ['-n', 'net.bridge.bridge-nf-call-iptables']).trim() !== '1') {
      nsExec(NODE, 'sysctl', ['-w', 'net.bridge.bridge-nf-call-iptables=1']);
    }
    // Traffic flows before the rule exists (and ARP is resolved), so the DROP sees only the pings below.
    nsExec(A.ns, 'ping', ['-c', '1', '-W', '2', B.ip]);
    nsExec(NODE, 'iptables-nft', ['-A', 'FORWARD', ...DROP_SPEC.split(' ')]);
    // A native nftables table that counts the same echo requests: it runs before iptables (priority -10 < 0).
    sh('ip', ['netns', 'exec', NODE, 'nft', '-f', '-'], {
      input: `table inet ${NFT_TABLE} {\n chain pre_fwd {\n  type filter hook forward priority -10; policy accept;\n  ip saddr ${A.ip} icmp type echo-request counter\n }\n}\n`,
    });
    // The legacy backend in its own namespace.
    sh('ip', ['netns', 'add', LEGACY]);
    sh('ip', ['-n', LEGACY, 'link', 'set', 'lo', 'up']);
    nsExec(LEGACY, 'iptables-legacy', ['-A', 'INPUT', '-i', 'lo', '-p', 'icmp', '--icmp-type', 'echo-request', '-m', 'comment', '--comment', 'default/web:http', '-j', 'ACCEPT']);
  });
  afterAll(() => cleanupPrefix(P));

  test('a DROP in FORWARD blocks pod-to-pod traffic and its counter rises by exactly the packets sent', async () => {
    expect(nsExec(NODE, 'sysctl', ['-n', 'net.bridge.bridge-nf-call-iptables']).trim()).toBe('1');
    const before = await readRules({ netns: NODE, table: 'filter', chain: 'FORWARD' });
    expect(before.backends).toContain('iptables-nft');
    expect(before.rules.every((r) => r.table === 'filter' && r.chain === 'FORWARD')).toBe(true);
    const drop0 = byText(before.rules, DROP_SPEC);
    expect(drop0).toMatchObject({ backend: 'iptables-nft', target: 'DROP', position: 1, packets: 0, counted: true });
    const deltas = new RuleDeltas();
    deltas.update(before.rules, 0);

    const SENT = 5;
    // Every echo request is dropped: ping fails.
    expect(tryRun('ip', ['netns', 'exec', A.ns, 'ping', '-c', String(SENT), '-i', '0.2', '-W', '1', B.ip])).toBe(false);

    const after = await readRules({ netns: NODE, table: 'filter', chain: 'FORWARD' });
    const drop1 = byText(after.rules, DROP_SPEC);
    expect(drop1.key).toBe(drop0.key);
    expect(drop1.packets - drop0.packets).toBe(SENT);
    expect(drop1.bytes - drop0.bytes).toBe(SENT * 84);
    const rows = deltas.update(after.rules, 2);
    expect(rows.find((r) => r.key === drop0.key)).toMatchObject({ dPackets: SENT, dBytes: SENT * 84, pps: SENT / 2, hitDrop: true });

    // The native nft table saw the same requests; the iptables-nft tables are not listed twice.
    const all = await readRules({ netns: NODE });
    expect(all.backends).toEqual(expect.arrayContaining(['iptables-nft', 'nft']));
    const nft = all.rules.filter((r) => r.backend === 'nft');
    expect(nft.every((r) => r.table === NFT_TABLE)).toBe(true);
    expect(byText(nft, `ip saddr ${A.ip} icmp type echo-request`)).toMatchObject({ packets: SENT, family: 'inet', chain: 'pre_fwd', counted: true });
    expect(byText(nft, 'policy accept')).toMatchObject({ position: 0, counted: false });
    expect(all.summary.find((s) => s.backend === 'nft')?.tables).toEqual([`inet ${NFT_TABLE}`]);
  });

  test('legacy backend detected; services from comments only in kube chains', async () => {
    tryRun('ip', ['netns', 'exec', LEGACY, 'ping', '-c', '3', '-i', '0.2', '-W', '1', '127.0.0.1']);
    const snap = await readRules({ netns: LEGACY });
    expect(snap.backends).toEqual(['iptables-legacy']);
    const r = byText(snap.rules, '-i lo -p icmp -m icmp --icmp-type 8 -m comment --comment "default/web:http" -j ACCEPT');
    expect(r).toMatchObject({ backend: 'iptables-legacy', packets: 3, bytes: 252, comment: 'default/web:http' });
    expect(r.service).toBeUndefined();
    expect(snap.summary.find((s) => s.backend === 'iptables-legacy')).toEqual({ backend: 'iptables-legacy', tables: ['filter'], rules: 1 });
    expect(snap.summary.find((s) => s.backend === 'iptables-nft')).toEqual({ backend: 'iptables-nft', tables: [], rules: 0 });
  });

  test('a kube-proxy ruleset restored into a namespace is recognised', async () => {
    sh('ip', ['netns', 'exec', LEGACY, 'iptables-nft-restore', '--noflush'], {
      input: [
        '*nat',
        ':KUBE-SERVICES - [0:0]',
        ':KUBE-SVC-TESTX - [0:0]',
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A KUBE-SERVICES -d 10.42.7.7/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-TESTX',
        'COMMIT',
        '',
      ].join('\n'),
    });
    const snap = await readRules({ netns: LEGACY, table: 'nat' });
    expect(snap.backends).toEqual(expect.arrayContaining(['iptables-legacy', 'iptables-nft']));
    const svc = snap.rules.find((r) => r.chain === 'KUBE-SERVICES');
    expect(svc).toMatchObject({ service: 'default/web:http', kubeRole: 'service portals', target: 'KUBE-SVC-TESTX', backend: 'iptables-nft' });
  });

  test('--watch: per-interval deltas add up to exactly the packets sent, drop hits flagged', async () => {
    const lines: string[] = [];
    const so = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (lines.push(String(s)), true));
    const frames = (): Array<{ at: number; rules: Array<RuleCounter & { dPackets: number; hitDrop: boolean }> }> => lines.map((l) => JSON.parse(l));
    const waitFrames = async (count: number): Promise<void> => {
      const until = lines.length + count;
      for (let i = 0; i < 200 && lines.length < until; i++) await new Promise((r) => setTimeout(r, 25));
      expect(lines.length).toBeGreaterThanOrEqual(until);
    };
    try {
      const done = rulesHandler({ netns: NODE, table: 'filter', chain: 'FORWARD', watch: 0.2, json: true, _: [], $0: 'netscope' });
      await waitFrames(1);
      expect(tryRun('ip', ['netns', 'exec', A.ns, 'ping', '-c', '3', '-i', '0.2', '-W', '1', B.ip])).toBe(false);
      await waitFrames(2);
      // Call only the command's own SIGINT listener (the last one added), not the test runner's.
      const listeners = process.listeners('SIGINT');
      (listeners[listeners.length - 1] as () => void)();
      await done;
    } finally {
      so.mockRestore();
    }
    const drops = frames().map((f) => f.rules.find((r) => r.text === DROP_SPEC)!);
    expect(drops[0].dPackets).toBe(0);
    expect(drops.reduce((sum, r) => sum + r.dPackets, 0)).toBe(3);
    expect(drops.some((r) => r.hitDrop)).toBe(true);
    expect(drops.every((r) => r.hitDrop === r.dPackets > 0)).toBe(true);
  });

  test('the command: text and JSON, unknown namespace is one clear line', async () => {
    const { out, err, restore } = captureOutput();
    try {
      await rulesHandler({ netns: NODE, table: 'filter', chain: 'FORWARD', _: [], $0: 'netscope' });
      const text = out.join('');
      expect(text).toMatch(/^backends {2}iptables-nft: filter \(1 rules\)/);
      expect(text).toContain('iptables-nft  filter  FORWARD');
      expect(text).toMatch(new RegExp(`\\n!\\s+\\d+\\s+\\d+\\s+DROP\\s+${DROP_SPEC.replace(/[./]/g, '\\$&')}\\n`));
      out.length = 0;
      await rulesHandler({ netns: NODE, json: true, _: [], $0: 'netscope' });
      const doc = JSON.parse(out.join('')) as { backends: string[]; rules: RuleCounter[] };
      expect(doc.backends).toEqual(expect.arrayContaining(['iptables-nft', 'nft']));
      expect(doc.rules.some((r) => r.text === DROP_SPEC)).toBe(true);
      await rulesHandler({ netns: `${P}none`, _: [], $0: 'netscope' });
      expect(err.join('')).toBe(`netscope: no network namespace "${P}none" (see ip netns list)\n`);
      expect(process.exitCode).toBe(2);
    } finally {
      restore();
    }
  });

  test('--table and --chain in any case find the chain whose DROP is being hit; a name that is not there is exit 2 listing what is', async () => {
    const { out, err, restore } = captureOutput();
    try {
      for (const [table, chain] of [['filter', 'forward'], ['FILTER', 'FORWARD'], [undefined, 'Forward']] as const) {
        out.length = 0;
        process.exitCode = 0;
        await rulesHandler({ netns: NODE, table, chain, _: [], $0: 'netscope' });
        const text = out.join('');
        expect(process.exitCode).toBe(0);
        expect(text).not.toContain('no rules');
        expect(text.match(/^iptables-nft {2}filter {2}FORWARD$/gm)).toHaveLength(1);
        expect(text).toMatch(new RegExp(`\\n!\\s+[1-9]\\d*\\s+\\d+\\s+DROP\\s+${DROP_SPEC.replace(/[./]/g, '\\$&')}\\n`));
      }
      err.length = 0;
      await rulesHandler({ netns: NODE, table: 'filter', chain: 'nosuch', _: [], $0: 'netscope' });
      expect(err.join('')).toBe(`netscope: no chain "nosuch" in namespace ${NODE} table filter — chains: INPUT, FORWARD, OUTPUT\n`);
      expect(process.exitCode).toBe(2);
      err.length = 0;
      await rulesHandler({ netns: NODE, table: 'filtre', _: [], $0: 'netscope' });
      expect(err.join('')).toMatch(new RegExp(`^netscope: no table "filtre" in namespace ${NODE} — tables: filter, .*${NFT_TABLE}`));
      expect(process.exitCode).toBe(2);
      process.exitCode = 0;
    } finally {
      restore();
    }
  });
});
