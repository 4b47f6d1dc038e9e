import { ApplyError, executePlan } from '../../src/topology/apply';
import type { IfInfo } from '../../src/topology/discover';
import { ruleHash } from '../../src/topology/ownership';
import { formatPlan, planTopology, PlanConflictError, type Cmd, type Plan } from '../../src/topology/plan';
import { parseTopologyText } from '../../src/topology/schema';
import { parseOwnedRules, splitSaveLine, type LiveState } from '../../src/topology/state';
import { renderTree } from '../../src/topology/tree';

const TOPO = `name: lab
nodes:
  - name: node
    sysctls: {net.ipv4.ip_forward: 1}
    interfaces:
      br0: {type: bridge, addresses: [10.244.5.1/24]}
    iptables:
      - {chain: FORWARD, rule: [-s, 10.244.5.0/24, -j, ACCEPT]}
pods:
  - name: a
    interfaces:
      eth0:
        type: veth
        addresses: [10.244.5.2/24]
        mtu: 1400
        peer: {namespace: node, name: va, bridge: br0}
    routes:
      - {to: default, via: 10.244.5.1}
`;
const spec = parseTopologyText(TOPO, 't.yaml');
const TAG = 'netscope:lab';

function emptyLive(): LiveState {
  return { namespaces: new Map(), interfaces: [], routes: new Map(), sysctls: new Map(), rules: new Map() };
}

function iface(netns: string, ifindex: number, name: string, kind: string, extra: Partial<IfInfo> = {}): IfInfo {
  return { netns, ifindex, name, kind, state: 'UP', up: true, mac: '02:00:00:00:00:01', mtu: 1500, addrs: [], alias: TAG, ...extra };
}

/** The live state that exactly matches TOPO applied with prefix "p-". */
function convergedLive(): LiveState {
  const live = emptyLive();
  for (const n of ['p-node', 'p-a']) live.namespaces.set(n, 'lab');
  live.interfaces = [
    iface('p-node', 1, 'lo', 'loopback'),
    iface('p-node', 2, 'br0', 'bridge', { addrs: [{ family: 'inet', local: '10.244.5.1', prefixlen: 24 }, { family: 'inet6', local: 'fe80::1', prefixlen: 64 }] }),
    iface('p-node', 3, 'va', 'veth', { master: 'br0', peer: { netns: 'p-a', ifname: 'eth0', ifindex: 2 } }),
    iface('p-a', 1, 'lo', 'loopback'),
    iface('p-a', 2, 'eth0', 'veth', { mtu: 1400, addrs: [{ family: 'inet', local: '10.244.5.2', prefixlen: 24 }], peer: { netns: 'p-node', ifname: 'va', ifindex: 3 } }),
  ];
  live.routes.set('p-a', [
    { dst: 'default', gateway: '10.244.5.1', dev: 'eth0', protocol: 'static' },
    { dst: '10.244.5.0/24', dev: 'eth0', protocol: 'kernel', prefsrc: '10.244.5.2' },
  ]);
  live.sysctls.set('p-node', { 'net.ipv4.ip_forward': '1' });
  const hash = ruleHash('filter', 'FORWARD', ['-s', '10.244.5.0/24', '-j', 'ACCEPT']);
  live.rules.set('p-node', [{ table: 'filter', chain: 'FORWARD', hash, owner: 'lab', args: ['-s', '10.244.5.0/24', '-m', 'comment', '--comment', `netscope:lab #${hash}`, '-j', 'ACCEPT'] }]);
  return live;
}

const texts = (p: Plan): string[] => p.changes.map((c) => `${c.op} ${c.text}`);

describe('planner', () => {
  test('fresh apply: namespaces, sysctl, links, settings, routes, rules in dependency order', () => {
    const plan = planTopology(spec, 'p-', emptyLive());
    expect(texts(plan)).toEqual([
      '+ namespace p-node',
      '+ namespace p-a',
      '+ p-node: bridge br0',
      '+ p-a: veth eth0 ⇄ p-node: va',
      '~ p-node: sysctl net.ipv4.ip_forward = 1',
      '+ p-node: br0 address 10.244.5.1/24',
      '~ p-node: br0 up',
      '+ p-a: eth0 address 10.244.5.2/24',
      '~ p-a: eth0 up',
      '~ p-node: va port of br0',
      '~ p-node: va up',
      '+ p-a: route default via 10.244.5.1',
      '+ p-node: iptables -t filter -A FORWARD -s 10.244.5.0/24 -j ACCEPT',
    ]);
    const veth = plan.changes[3];
    expect(veth.cmds[0].argv).toEqual(['ip', '-n', 'p-a', 'link', 'add', 'eth0', 'mtu', '1400', 'type', 'veth', 'peer', 'name', 'va', 'netns', 'p-node']);
    expect(veth.cmds.slice(1).map((c) => c.argv.join(' '))).toEqual(['ip -n p-a link set eth0 alias netscope:lab', 'ip -n p-node link set va alias netscope:lab']);
    expect(plan.changes[0].cmds.map((c) => c.argv.join(' '))).toEqual(['ip netns add p-node', 'ip -n p-node link set lo alias netscope:lab up']);
    const rule = plan.changes[12].cmds[0];
    expect(rule.netns).toBe('p-node');
    expect(rule.argv.slice(0, 6)).toEqual(['iptables', '-w', '-t', 'filter', '-A', 'FORWARD']);
    expect(rule.argv.slice(-3)).toEqual(['comment', '--comment', expect.stringMatching(/^netscope:lab #[0-9a-f]{12}$/)]);
    expect(plan.changes.find((c) => c.text.includes('route'))!.cmds[0].argv).toEqual(['ip', '-n', 'p-a', 'route', 'add', 'default', 'via', '10.244.5.1', 'proto', 'static']);
  });

  test('converged state: no changes, and the plan says so', () => {
    const plan = planTopology(spec, 'p-', convergedLive());
    expect(plan.changes).toEqual([]);
    expect(formatPlan(plan)).toBe('topology lab: up to date, nothing to change\n');
  });

  test('changed file converges: mtu, address (route re-installed), master, removed namespace, rule order', () => {
    const changed = parseTopologyText(
      TOPO.replace('mtu: 1400', 'mtu: 1300').replace('10.244.5.2/24', '10.244.5.3/24').replace(', bridge: br0}', '}').replace('-j, ACCEPT', '-j, DROP'),
      't.yaml',
    );
    const live = convergedLive();
    live.namespaces.set('p-old', 'lab');
    live.namespaces.set('other', undefined);
    expect(texts(planTopology(changed, 'p-', live))).toEqual([
      '- namespace p-old',
      '~ p-a: eth0 mtu 1300 (was 1400)',
      '- p-a: eth0 address 10.244.5.2/24',
      '+ p-a: eth0 address 10.244.5.3/24',
      '~ p-node: va no bridge (was br0)',
      '~ p-a: route default via 10.244.5.1 (re-installed after an address change)',
      '- p-node: iptables -t filter FORWARD -s 10.244.5.0/24 -m comment --comment netscope:lab #' + live.rules.get('p-node')![0].hash + ' -j ACCEPT',
      '+ p-node: iptables -t filter -A FORWARD -s 10.244.5.0/24 -j DROP',
    ]);
  });

  test('undeclared owned links are deleted once per veth pair; a changed peer means recreate', () => {
    const live = convergedLive();
    live.interfaces.push(
      iface('p-node', 7, 'vx', 'veth', { peer: { netns: 'p-a', ifname: 'ex', ifindex: 8 } }),
      iface('p-a', 8, 'ex', 'veth', { peer: { netns: 'p-node', ifname: 'vx', ifindex: 7 } }),
      iface('p-node', 9, 'foreign', 'veth', { alias: undefined }),
    );
    expect(texts(planTopology(spec, 'p-', live))).toEqual(['- p-node: veth vx']);

    const moved = convergedLive();
    moved.interfaces[2].peer = { netns: 'p-a', ifname: 'eth9', ifindex: 5 };
    moved.interfaces[4].peer = undefined;
    const t = texts(planTopology(spec, 'p-', moved));
    expect(t.slice(0, 3)).toEqual(['- p-a: veth eth0 (to recreate: type or peer changed)', '- p-node: veth va (to recreate: type or peer changed)', '+ p-a: veth eth0 ⇄ p-node: va']);
  });

  test('refuses namespaces and links it does not own', () => {
    const live = emptyLive();
    live.namespaces.set('p-node', undefined);
    expect(() => planTopology(spec, 'p-', live)).toThrow(new PlanConflictError('namespace p-node already exists and was not created by netscope — choose another --prefix, or remove it (ip netns del p-node) if it is stale'));
    const live2 = convergedLive();
    live2.namespaces.set('p-a', 'other');
    expect(() => planTopology(spec, 'p-', live2)).toThrow(/namespace p-a already exists and belongs to topology "other"/);
    const live3 = convergedLive();
    live3.interfaces[1].alias = undefined;
    expect(() => planTopology(spec, 'p-', live3)).toThrow(/interface br0 already exists in namespace p-node and was not created by topology "lab"/);
  });
});

describe('executor and rollback', () => {
  const plan = planTopology(spec, 'p-', emptyLive());

  test('failure at change N undoes what started, newest first; inside created namespaces only the namespace goes', async () => {
    const ran: string[] = [];
    const runCmd = async (c: Cmd): Promise<void> => {
      ran.push(c.argv.join(' '));
    };
    const err = await executePlan(plan, { runCmd, failAt: 6 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    expect((err as ApplyError).message).toBe('apply of topology lab failed: injected failure at change 6 (NETSCOPE_TOPO_FAIL_AT); rolled back 5 changes');
    const undo = ran.slice(ran.indexOf('sysctl -q -w net.ipv4.ip_forward=1') + 1);
    expect(undo).toEqual(['ip netns del p-a', 'ip netns del p-node']);
  });

  test('a failing command in an existing namespace is undone by its own undo commands', async () => {
    const live = convergedLive();
    live.sysctls.set('p-node', { 'net.ipv4.ip_forward': '0' });
    const changed = parseTopologyText(TOPO.replace('mtu: 1400', 'mtu: 1300').replace('10.244.5.2/24', '10.244.5.3/24'), 't.yaml');
    const p = planTopology(changed, 'p-', live);
    const ran: string[] = [];
    const runCmd = async (c: Cmd): Promise<void> => {
      const s = (c.netns ? `[${c.netns}] ` : '') + c.argv.join(' ');
      ran.push(s);
      if (s.includes('addr add 10.244.5.3/24')) throw new Error('RTNETLINK answers: Invalid argument');
    };
    await expect(executePlan(p, { runCmd })).rejects.toThrow(/failed: RTNETLINK answers: Invalid argument; rolled back 3 changes/);
    expect(ran).toEqual([
      '[p-node] sysctl -q -w net.ipv4.ip_forward=1',
      'ip -n p-a link set eth0 mtu 1300',
      'ip -n p-a addr del 10.244.5.2/24 dev eth0',
      'ip -n p-a addr add 10.244.5.3/24 dev eth0',
      'ip -n p-a addr add 10.244.5.2/24 dev eth0',
      'ip -n p-a route replace default via 10.244.5.1 dev eth0 proto static',
      'ip -n p-a link set eth0 mtu 1400',
      '[p-node] sysctl -q -w net.ipv4.ip_forward=0',
    ]);
  });

  test('an aborted signal stops before the next change and rolls back', async () => {
    const ctl = new AbortController();
    const ran: string[] = [];
    const runCmd = async (c: Cmd): Promise<void> => {
      ran.push(c.argv.join(' '));
      if (ran.length === 3) ctl.abort();
    };
    const err = (await executePlan(plan, { runCmd, signal: ctl.signal }).catch((e: unknown) => e)) as ApplyError;
    expect(err.interrupted).toBe(true);
    expect(err.message).toBe('apply of topology lab failed: interrupted; rolled back 2 changes');
    expect(ran.slice(-2)).toEqual(['ip netns del p-a', 'ip netns del p-node']);
  });
});

describe('iptables-save parsing', () => {
  test('quotes and owned rules', () => {
    expect(splitSaveLine('-A FORWARD -m comment --comment "netscope:lab #ab12" -j ACCEPT')).toEqual(['-A', 'FORWARD', '-m', 'comment', '--comment', 'netscope:lab #ab12', '-j', 'ACCEPT']);
    expect(splitSaveLine('-A X --comment "a \\"q\\" b" -j LOG')).toEqual(['-A', 'X', '--comment', 'a "q" b', '-j', 'LOG']);
    const save = ['*nat', ':POSTROUTING ACCEPT [0:0]', '-A POSTROUTING -s 10.244.0.0/16 -m comment --comment "netscope:lab #00ff" -j MASQUERADE', 'COMMIT', '*filter', '-A FORWARD -m comment --comment "someone else" -j ACCEPT', '-A FORWARD -m comment --comment netscope:lab -j DROP', 'COMMIT'].join('\n');
    expect(parseOwnedRules(save)).toEqual([
      { table: 'nat', chain: 'POSTROUTING', hash: '00ff', owner: 'lab', args: ['-s', '10.244.0.0/16', '-m', 'comment', '--comment', 'netscope:lab #00ff', '-j', 'MASQUERADE'] },
      { table: 'filter', chain: 'FORWARD', hash: '', owner: 'lab', args: ['-m', 'comment', '--comment', 'netscope:lab', '-j', 'DROP'] },
    ]);
  });
});

describe('tree', () => {
  test('bridge → port → veth peer → namespace with IPs; routes; bridge filter', () => {
    const live = convergedLive();
    const topo = {
      namespaces: [
        { id: '', label: 'host', inode: 1 },
        { id: 'p-node', name: 'p-node', label: 'p-node', inode: 2 },
        { id: 'p-a', name: 'p-a', label: 'p-a', inode: 3 },
        { id: 'pid:42', pid: 42, label: 'pid 42 (sleep)', inode: 4 },
      ],
      interfaces: [...live.interfaces.map((i) => ({ ...i, alias: undefined })), iface('pid:42', 1, 'lo', 'loopback', { state: 'DOWN', up: false, alias: undefined })],
      routes: [{ netns: 'p-a', dst: 'default', gateway: '10.244.5.1', dev: 'eth0' }],
      neighbours: [],
    };
    const tree = renderTree(topo);
    expect(tree).toBe(
      [
        "host (netscope's namespace) [netns 1]",
        'p-node [netns 2]',
        '├── lo loopback UP mtu 1500',
        '└── br0 bridge UP 02:00:00:00:00:01 mtu 1500 10.244.5.1/24',
        '    └── va veth UP 02:00:00:00:00:01 mtu 1500',
        '        └── ⇄ eth0 UP in namespace p-a 10.244.5.2/24',
        'p-a [netns 3]',
        '├── lo loopback UP mtu 1500',
        '├── eth0 veth UP 02:00:00:00:00:01 mtu 1400 10.244.5.2/24',
        '│   └── ⇄ va UP in namespace p-node',
        '└── routes',
        '    └── default via 10.244.5.1 dev eth0',
        'pid 42 (sleep) [netns 4]',
        '└── lo loopback DOWN mtu 1500',
        '',
      ].join('\n'),
    );
    expect(renderTree(topo, { bridge: 'br0' }).split('\n')[0]).toBe('p-node [netns 2]');
    // An unknown bridge draws nothing; `topo show --bridge nope` turns that into an exit-2 error.
    expect(renderTree(topo, { bridge: 'nope' })).toBe('');
    expect(renderTree(topo, { color: true })).toContain('\x1b[32mUP\x1b[0m');
  });
});
