import { readFileSync } from 'fs';
import path from 'path';
import { parseIptablesSave, splitRuleWords, IptablesSaveError } from '../../src/host/iptables';
import { isXtablesTableName, parseNftRuleset, parseNftTables, renderNftExprs } from '../../src/host/nft';
import * as view from '../../src/cli/commands/rules';
import { RuleDeltas, isDropTarget, kubeChainRole, kubeService, type RuleCounter } from '../../src/host/rules';

const fixture = (name: string): string => readFileSync(path.join(__dirname, '../../fixtures/host', name), 'utf8');
const find = (rules: RuleCounter[], chain: string, position: number): RuleCounter => {
  const r = rules.find((x) => x.chain === chain && x.position === position);
  if (!r) throw new Error(`no rule ${chain}#${position}`);
  return r;
};

describe('iptables-save -c parser', () => {
  test('kube-proxy ruleset on the nft backend: tables, policies, counters, targets, services', () => {
    const { tables, rules } = parseIptablesSave(fixture('iptables-nft-kube.save'), 'iptables-nft', 'ip');
    expect(tables.map((t) => t.table)).toEqual(['filter', 'nat']);
    expect(tables[0].chains.map((c) => c.name)).toContain('KUBE-FORWARD');
    // Every rule line of the fixture plus one policy row per built-in chain.
    const ruleLines = fixture('iptables-nft-kube.save').split('\n').filter((l) => /^\[\d+:\d+\] -A /.test(l)).length;
    expect(rules.filter((r) => r.position > 0)).toHaveLength(ruleLines);
    expect(rules.filter((r) => r.position === 0).map((r) => `${r.table}/${r.chain}`)).toEqual([
      'filter/INPUT', 'filter/FORWARD', 'filter/OUTPUT', 'nat/PREROUTING', 'nat/INPUT', 'nat/OUTPUT', 'nat/POSTROUTING',
    ]);
    const fwdPolicy = find(rules.filter((r) => r.table === 'filter'), 'FORWARD', 0);
    expect(fwdPolicy).toMatchObject({ text: 'policy DROP', target: 'DROP', counted: true, backend: 'iptables-nft', family: 'ip' });

    // The REJECT of a service without endpoints was hit by exactly one SYN when recorded.
    const reject = rules.find((r) => r.table === 'filter' && r.chain === 'KUBE-SERVICES');
    expect(reject).toMatchObject({
      target: 'REJECT', packets: 1, bytes: 60, service: 'default/nobackend:http', kubeRole: 'service portals',
      comment: 'default/nobackend:http has no endpoints',
    });
    expect(reject?.text).toBe(
      '-d 10.42.0.99/32 -p tcp -m comment --comment "default/nobackend:http has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable',
    );
    const nat = rules.filter((r) => r.table === 'nat');
    const svc = nat.filter((r) => r.chain === 'KUBE-SVC-WEBHTTPXXXXXXXXX');
    expect(svc.map((r) => r.service)).toEqual(['default/web:http', 'default/web:http', 'default/web:http']);
    expect(svc.map((r) => r.target)).toEqual(['KUBE-MARK-MASQ', 'KUBE-SEP-AAAAAAAAAAAAAAAA', 'KUBE-SEP-BBBBBBBBBBBBBBBB']);
    expect(svc[0].kubeRole).toBe('service → endpoints');
    // Two SYNs to the cluster IP were load-balanced over the two endpoints' DNAT rules.
    const dnat = nat.filter((r) => r.chain.startsWith('KUBE-SEP-') && r.target === 'DNAT' && r.service === 'default/web:http');
    expect(dnat.reduce((s, r) => s + r.packets, 0)).toBe(2);
    expect(find(nat, 'KUBE-SEP-CCCCCCCCCCCCCCCC', 2).service).toBe('kube-system/kube-dns:dns');
    // Non-service comments in kube chains and rules in built-in chains carry no service.
    expect(find(nat, 'KUBE-POSTROUTING', 3).service).toBeUndefined();
    expect(find(nat, 'PREROUTING', 1)).toMatchObject({ target: 'KUBE-SERVICES', comment: 'kubernetes service portals' });
    expect(find(nat, 'PREROUTING', 1).service).toBeUndefined();
    expect(find(nat, 'KUBE-MARK-MASQ', 1).kubeRole).toBe('mark for masquerade');
  });

  test('keys are unique and survive a rule inserted above', () => {
    const text = fixture('iptables-nft-kube.save');
    const a = parseIptablesSave(text, 'iptables-nft', 'ip').rules;
    expect(new Set(a.map((r) => r.key)).size).toBe(a.length);
    const inserted = text.replace('[0:0] -A FORWARD -s 10.244.0.0/16 -j ACCEPT', '[0:0] -A FORWARD -s 10.42.0.0/16 -j ACCEPT\n[0:0] -A FORWARD -s 10.244.0.0/16 -j ACCEPT');
    const b = parseIptablesSave(inserted, 'iptables-nft', 'ip').rules;
    const ra = a.find((r) => r.text === '-d 10.244.0.0/16 -j ACCEPT');
    const rb = b.find((r) => r.text === '-d 10.244.0.0/16 -j ACCEPT');
    expect(rb?.key).toBe(ra?.key);
    expect(rb?.position).toBe((ra?.position ?? 0) + 1);
  });

  test('identical rules in one chain get distinct keys', () => {
    const t = '*filter\n:INPUT ACCEPT [0:0]\n[1:2] -A INPUT -j ACCEPT\n[3:4] -A INPUT -j ACCEPT\nCOMMIT\n';
    const rules = parseIptablesSave(t, 'iptables-legacy', 'ip').rules.filter((r) => r.position > 0);
    expect(rules.map((r) => r.key)).toEqual(['iptables-legacy|ip|filter|INPUT|-j ACCEPT', 'iptables-legacy|ip|filter|INPUT|-j ACCEPT|#2']);
  });

  test('legacy backend, IPv4 and IPv6', () => {
    const v4 = parseIptablesSave(fixture('iptables-legacy.save'), 'iptables-legacy', 'ip');
    expect(v4.tables.map((t) => t.table)).toEqual(['raw', 'filter']);
    const filter = v4.rules.filter((r) => r.table === 'filter');
    expect(find(filter, 'NETSCOPE-IN', 1)).toMatchObject({ packets: 4, bytes: 336, target: 'ACCEPT' });
    expect(find(filter, 'NETSCOPE-IN', 2)).toMatchObject({ packets: 1, target: 'REJECT' });
    expect(find(filter, 'FORWARD', 1)).toMatchObject({ comment: 'pod egress', target: 'ACCEPT' });
    expect(find(filter, 'FORWARD', 1).service).toBeUndefined();
    const v6 = parseIptablesSave(fixture('ip6tables-legacy.save'), 'ip6tables-legacy', 'ip6');
    expect(find(v6.rules, 'INPUT', 2)).toMatchObject({ text: '-s fd99::/64 -j DROP', target: 'DROP', family: 'ip6', backend: 'ip6tables-legacy' });
    const v6nft = parseIptablesSave(fixture('ip6tables-nft.save'), 'ip6tables-nft', 'ip6');
    expect(v6nft.rules.filter((r) => r.position > 0)).toHaveLength(2);
  });

  test('an empty table yields only its policies; empty output yields nothing', () => {
    const { tables, rules } = parseIptablesSave(fixture('iptables-nft-empty.save'), 'iptables-nft', 'ip');
    expect(tables).toEqual([{ table: 'raw', chains: [{ name: 'PREROUTING', policy: 'ACCEPT' }, { name: 'OUTPUT', policy: 'ACCEPT' }] }]);
    expect(rules.every((r) => r.position === 0)).toBe(true);
    expect(parseIptablesSave('', 'iptables-nft', 'ip')).toEqual({ tables: [], rules: [] });
  });

  test('rules without counters (plain iptables-save) are accepted as uncounted', () => {
    const r = parseIptablesSave('*filter\n:INPUT ACCEPT\n-A INPUT -j DROP\nCOMMIT\n', 'iptables-nft', 'ip').rules;
    expect(r.map((x) => [x.text, x.counted])).toEqual([['policy ACCEPT', false], ['-j DROP', false]]);
  });

  test('garbage input is a clear error naming the line, never a crash', () => {
    const cases: Array<[string, RegExp]> = [
      ['hello world', /line 1: expected "\*table" first/],
      ['*filter\n:INPUT ACCEPT [0:0]\n[x:1] -A INPUT -j DROP\nCOMMIT', /line 3: bad counters/],
      ['*filter\n:INPUT ACCEPT [0:0]\n[1:1] -A INPUT -m comment --comment "open -j DROP\nCOMMIT', /line 3: unterminated quote/],
      ['*filter\n:INPUT ACCEPT [0:0]\n[1:1] -A INPUT -j DROP\n', /not closed by COMMIT/],
      ['*filter\n*nat\nCOMMIT', /line 2: table "filter" has no COMMIT/],
      ['*filter\nbogus line\nCOMMIT', /line 2: expected "-A CHAIN/],
      ['\u0000\u0001\u0002', /line 1/],
    ];
    for (const [text, re] of cases) {
      expect(() => parseIptablesSave(text, 'iptables-nft', 'ip')).toThrow(IptablesSaveError);
      expect(() => parseIptablesSave(text, 'iptables-nft', 'ip')).toThrow(re);
    }
    // Every prefix of a real recording either parses or throws IptablesSaveError: nothing else escapes.
    const full = fixture('iptables-nft-kube.save');
    for (let n = 0; n <= full.length; n += 7) {
      try {
        parseIptablesSave(full.slice(0, n), 'iptables-nft', 'ip');
      } catch (err) {
        expect(err).toBeInstanceOf(IptablesSaveError);
      }
    }
  });

  test('word splitting follows iptables-save quoting', () => {
    expect(splitRuleWords('-m comment --comment "a \\"quoted\\" b" -j X')).toEqual(['-m', 'comment', '--comment', 'a "quoted" b', '-j', 'X']);
    expect(splitRuleWords('--comment ""')).toEqual(['--comment', '']);
  });
});

describe('nft -j list ruleset parser', () => {
  test('native tables are read, iptables-nft tables recognised and skipped', () => {
    const { tables, rules } = parseNftRuleset(fixture('nft-ruleset.json'));
    const byName = Object.fromEntries(tables.map((t) => [`${t.family} ${t.name}`, t.xtables]));
    expect(byName).toEqual({ 'ip nat': true, 'ip filter': true, 'ip6 filter': true, 'inet netscope_fw': false, 'ip6 empty6': false });
    expect(rules.every((r) => r.backend === 'nft' && r.table === 'netscope_fw')).toBe(true);
    const input = rules.filter((r) => r.chain === 'input');
    expect(input.map((r) => r.text)).toEqual([
      'policy accept',
      'iifname lo tcp dport 8080 drop comment "block local 8080"',
      'ip saddr 10.244.0.0/16 accept',
      'ip daddr { 10.42.0.1, 10.42.0.2 } tcp dport 1-1024 log prefix "low port " accept',
      '',
    ]);
    expect(input[0]).toMatchObject({ position: 0, counted: false, target: 'accept' });
    expect(input[1]).toMatchObject({ position: 1, target: 'drop', counted: true, comment: 'block local 8080' });
    expect(typeof input[1].handle).toBe('number');
    // The bare `counter` rule counted every packet that reached the end of the chain.
    expect(input[4].counted).toBe(true);
    expect(input[4].packets).toBeGreaterThan(0);
    const fwd = rules.filter((r) => r.chain === 'forward_filter');
    expect(fwd.map((r) => [r.position, r.text, r.target, r.counted])).toEqual([
      [0, 'policy drop', 'drop', false],
      [1, 'ct state established,related accept', 'accept', true],
      [2, 'jump svc_helper', 'jump svc_helper', false],
    ]);
    expect(rules.filter((r) => r.chain === 'svc_helper').map((r) => r.text)).toEqual([
      'udp dport 53 reject with icmpx port-unreachable',
      'meta l4proto tcp reject with tcp reset',
    ]);
    const dnat = rules.find((r) => r.chain === 'nat_output' && r.position === 1);
    expect(dnat).toMatchObject({ text: 'ip daddr 10.42.0.81 tcp dport 80 dnat ip to 10.244.1.11:8080', target: 'dnat', packets: 1, bytes: 60 });
    expect(rules.find((r) => r.chain === 'nat_out' && r.position === 1)?.text).toBe('ip saddr 10.244.0.0/16 oifname != lo masquerade');
    expect(new Set(rules.map((r) => r.key)).size).toBe(rules.length);
  });

  test('hint from iptables-nft-save decides; a native table named like iptables ones is kept', () => {
    const doc = {
      nftables: [
        { table: { family: 'ip', name: 'filter', handle: 1 } },
        { chain: { family: 'ip', table: 'filter', name: 'input', handle: 1, type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
        { rule: { family: 'ip', table: 'filter', chain: 'input', handle: 2, expr: [{ counter: { packets: 5, bytes: 500 } }, { drop: null }] } },
      ],
    };
    expect(parseNftRuleset(JSON.stringify(doc)).tables[0].xtables).toBe(false);
    expect(parseNftRuleset(JSON.stringify(doc)).rules.map((r) => [r.text, r.packets])).toEqual([['policy accept', 0], ['drop', 5]]);
    expect(parseNftRuleset(JSON.stringify(doc), new Set(['ip filter'])).rules).toEqual([]);
  });

  test('kube-proxy nftables mode: services from chain names', () => {
    const doc = {
      nftables: [
        { table: { family: 'ip', name: 'kube-proxy' } },
        { chain: { family: 'ip', table: 'kube-proxy', name: 'service-ULMVA6XW-default/web/tcp/http' } },
        { rule: { family: 'ip', table: 'kube-proxy', chain: 'service-ULMVA6XW-default/web/tcp/http', expr: [{ counter: { packets: 1, bytes: 60 } }, { goto: { target: 'endpoint-X' } }] } },
      ],
    };
    const [r] = parseNftRuleset(JSON.stringify(doc)).rules;
    expect(r).toMatchObject({ service: 'default/web:http', kubeRole: 'service → endpoints', target: 'goto endpoint-X', packets: 1 });
  });

  test('table list (read first, so iptables-nft tables are never listed through nft)', () => {
    expect(parseNftTables(fixture('nft-ruleset.json'))).toEqual([
      { family: 'ip', name: 'nat' },
      { family: 'ip', name: 'filter' },
      { family: 'ip6', name: 'filter' },
      { family: 'inet', name: 'netscope_fw' },
      { family: 'ip6', name: 'empty6' },
    ]);
    expect(parseNftTables('')).toEqual([]);
    expect(() => parseNftTables('nope')).toThrow(/not JSON/);
    expect(isXtablesTableName('ip6', 'mangle')).toBe(true);
    expect(isXtablesTableName('inet', 'filter')).toBe(false);
  });

  test('unknown expressions are kept as JSON, not dropped', () => {
    expect(renderNftExprs([{ frob: { x: 1 } }, { accept: null }]).text).toBe('frob {"x":1} accept');
  });

  test('empty ruleset and garbage', () => {
    expect(parseNftRuleset(fixture('nft-empty.json'))).toEqual({ tables: [], rules: [] });
    expect(parseNftRuleset('')).toEqual({ tables: [], rules: [] });
    expect(() => parseNftRuleset('table inet x {')).toThrow(/not JSON/);
    expect(() => parseNftRuleset('[1,2]')).toThrow(/"nftables" array/);
    expect(() => parseNftRuleset('{"nftables":[{"rule":{"family":"ip"}}]}')).toThrow(/rule without "expr"/);
    expect(parseNftRuleset('{"nftables":[1,null,"x",{"rule":{"family":"ip","table":"t","chain":"c","expr":[5,null]}}]}').rules[0].text).toBe('5 null');
  });
});

describe('kube-proxy recognition', () => {
  test('chain roles', () => {
    expect(kubeChainRole('nat', 'KUBE-SERVICES')).toBe('service portals');
    expect(kubeChainRole('nat', 'KUBE-SEP-ABC')).toBe('endpoint DNAT');
    expect(kubeChainRole('filter', 'KUBE-FORWARD')).toBe('forwarding');
    expect(kubeChainRole('nat', 'KUBE-NODEPORTS')).toBe('node ports');
    expect(kubeChainRole('nat', 'KUBE-POSTROUTING')).toBe('masquerade marked traffic');
    expect(kubeChainRole('filter', 'FORWARD')).toBeUndefined();
    expect(kubeChainRole('inet', 'service-x')).toBeUndefined();
  });
  test('service from comments', () => {
    expect(kubeService('nat', 'KUBE-SVC-X', 'default/web:http -> 10.244.1.10:8080')).toBe('default/web:http');
    expect(kubeService('nat', 'KUBE-SVC-X', 'default/web')).toBe('default/web');
    expect(kubeService('nat', 'KUBE-SVC-X', 'kubernetes service portals')).toBeUndefined();
    expect(kubeService('filter', 'FORWARD', 'default/web:http')).toBeUndefined();
  });
});

describe('RuleDeltas', () => {
  const rule = (packets: number, bytes: number, target = 'DROP', key = 'k'): RuleCounter => ({
    key, backend: 'iptables-nft', family: 'ip', table: 'filter', chain: 'FORWARD', position: 1, text: `-j ${target}`, target, packets, bytes, counted: true,
  });
  test('deltas, rates, drop hits, counter resets, new rules', () => {
    const d = new RuleDeltas();
    const [a] = d.update([rule(10, 1000)], 100);
    expect(a).toMatchObject({ dPackets: 0, dBytes: 0, pps: 0, hitDrop: false, isNew: false });
    const [b] = d.update([rule(30, 3000)], 102);
    expect(b).toMatchObject({ dPackets: 20, dBytes: 2000, pps: 10, bps: 1000, hitDrop: true });
    const [c] = d.update([rule(30, 3000)], 104);
    expect(c).toMatchObject({ dPackets: 0, pps: 0, hitDrop: false });
    const [e, f] = d.update([rule(4, 400), rule(1, 1, 'ACCEPT', 'other')], 105);
    expect(e).toMatchObject({ dPackets: 4, dBytes: 400, pps: 4 });
    expect(f).toMatchObject({ isNew: true, dPackets: 0, hitDrop: false });
    const [g] = d.update([rule(1, 1, 'ACCEPT', 'other')], 106);
    expect(g).toMatchObject({ dPackets: 0, isNew: false });
  });
  test('drop targets', () => {
    expect(['DROP', 'REJECT', 'drop', 'reject', 'KUBE-MARK-DROP'].every(isDropTarget)).toBe(true);
    expect(['ACCEPT', 'accept', 'KUBE-SVC-X', '', 'jump x'].some(isDropTarget)).toBe(false);
  });
});

describe('rules text view', () => {
  test('groups by chain, marks hit drops, shows services and uncounted rules', () => {
    const kube = parseIptablesSave(fixture('iptables-nft-kube.save'), 'iptables-nft', 'ip').rules.filter((r) => r.table === 'filter');
    const lines = view.renderRules(kube);
    expect(lines).toContain('iptables-nft  filter  KUBE-SERVICES  (kube-proxy: service portals)');
    const reject = lines.find((l) => l.includes('REJECT'));
    expect(reject).toMatch(/^!\s+1\s+60\s+REJECT\s+\[default\/nobackend:http\] -d 10\.42\.0\.99\/32/);
    const nft = parseNftRuleset(fixture('nft-ruleset.json')).rules.filter((r) => r.chain === 'forward_filter');
    const nftLines = view.renderRules(nft);
    expect(nftLines.find((l) => l.includes('jump svc_helper'))).toMatch(/^\s+-\s+-\s+jump svc_helper/);
    expect(nftLines.find((l) => l.includes('policy drop'))).toMatch(/^\s+-\s+-\s+drop\s+\(policy drop\)$/);
  });
  test('each chain is one group: its policy, then its rules (iptables-save declares all chains first)', () => {
    const text = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [3:180]\n:OUTPUT ACCEPT [0:0]\n:MY-CHAIN - [0:0]\n[4:240] -A FORWARD -s 10.244.1.1/32 -j DROP\n[0:0] -A INPUT -j MY-CHAIN\n[0:0] -A MY-CHAIN -j RETURN\nCOMMIT\n*nat\n:POSTROUTING ACCEPT [0:0]\n[0:0] -A POSTROUTING -j ACCEPT\nCOMMIT\n';
    const { rules } = parseIptablesSave(text, 'iptables-nft', 'ip');
    expect(rules.map((r) => `${r.table}/${r.chain}#${r.position}`)).toEqual([
      'filter/INPUT#0', 'filter/INPUT#1', 'filter/FORWARD#0', 'filter/FORWARD#1', 'filter/OUTPUT#0', 'filter/MY-CHAIN#1', 'nat/POSTROUTING#0', 'nat/POSTROUTING#1',
    ]);
    const headers = view.renderRules(rules).filter((l) => l.startsWith('iptables-nft  '));
    expect(headers).toEqual(['iptables-nft  filter  INPUT', 'iptables-nft  filter  FORWARD', 'iptables-nft  filter  OUTPUT', 'iptables-nft  filter  MY-CHAIN', 'iptables-nft  nat  POSTROUTING']);
    // The recorded kube-proxy ruleset: no chain header twice.
    const kube = view.renderRules(parseIptablesSave(fixture('iptables-nft-kube.save'), 'iptables-nft', 'ip').rules).filter((l) => l.startsWith('iptables-nft  '));
    expect(new Set(kube).size).toBe(kube.length);
  });
  test('watch rows: deltas, rates, moving and hit-drop marks, --nonzero', () => {
    const d = new RuleDeltas();
    const base = parseIptablesSave('*filter\n:FORWARD ACCEPT [0:0]\n[0:0] -A FORWARD -s 10.244.1.1/32 -j DROP\n[0:0] -A FORWARD -j ACCEPT\nCOMMIT\n', 'iptables-nft', 'ip').rules;
    d.update(base, 10);
    const moved = parseIptablesSave('*filter\n:FORWARD ACCEPT [0:0]\n[5:420] -A FORWARD -s 10.244.1.1/32 -j DROP\n[2:200] -A FORWARD -j ACCEPT\nCOMMIT\n', 'iptables-nft', 'ip').rules;
    const lines = view.renderRules(d.update(moved, 12), { deltas: true, nonzero: true });
    expect(lines.filter((l) => /^[!* ]\s*\d/.test(l))).toEqual([
      '!      5      420      5    2.5  DROP    -s 10.244.1.1/32 -j DROP',
      '*      2      200      2    1.0  ACCEPT  -j ACCEPT',
    ]);
    expect(view.humanBytes(1234567)).toBe('1.2M');
    expect(view.renderBackends({ summary: [{ backend: 'nft', tables: ['inet t'], rules: 3 }, { backend: 'iptables-legacy', tables: [], rules: 0 }], warnings: ['x: y'] })).toEqual([
      'backends  nft: inet t (3 rules)   (empty: iptables-legacy)',
      'warning   x: y',
    ]);
  });
});
