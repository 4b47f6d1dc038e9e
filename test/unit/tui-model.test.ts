import { DashboardModel } from '../../src/tui/model';
import { mergeMacs } from '../../src/tui/panes/macs';
import { dropAccounting } from '../../src/tui/panes/status';
import type { FlowInfo, RuleRow } from '../../src/tui/rows';
import { RULE_STICKY_SEC } from '../../src/tui/state';
import { stripTags } from '../../src/tui/format';
import { computeLayout, tooSmall } from '../../src/tui/layout';

function flow(over: Partial<FlowInfo> & { key: string }): FlowInfo {
  return {
    proto: 'tcp',
    a: '10.244.1.2:40000',
    b: '10.244.1.3:5001',
    packetsAB: 0,
    packetsBA: 0,
    bytesAB: 0,
    bytesBA: 0,
    bytesPerSec: 0,
    firstSec: 1000,
    lastSec: 1000,
    state: 'established',
    badges: [],
    ifaces: ['node/cni0'],
    notes: [],
    ...over,
  };
}

function rule(over: Partial<RuleRow> & { key: string }): RuleRow {
  return {
    backend: 'iptables-nft',
    table: 'filter',
    chain: 'FORWARD',
    position: 1,
    text: '-s 10.244.1.4/32 -p tcp --dport 8080 -j DROP',
    target: 'DROP',
    packets: 0,
    bytes: 0,
    dPackets: 0,
    dBytes: 0,
    pps: 0,
    hitDrop: false,
    ...over,
  };
}

const plain = (lines: string[]): string[] => lines.map(stripTags);

const FLOWS = [
  flow({ key: 'big', a: '10.244.1.2:40000', bytesAB: 9_000_000, packetsAB: 100, bytesPerSec: 10 }),
  flow({ key: 'many', proto: 'udp', a: '10.244.1.4:53000', b: '10.244.1.3:53', packetsAB: 5000, bytesAB: 1000, bytesPerSec: 20 }),
  flow({
    key: 'fast',
    proto: 'icmp',
    a: '10.244.1.2',
    b: '10.244.1.9',
    packetsAB: 10,
    bytesAB: 980,
    bytesPerSec: 5000,
    state: 'echo',
    badges: [{ text: 'NOREPLY', severity: 'bad' }],
  }),
];

describe('DashboardModel flows', () => {
  it('sorts by bytes descending by default with ▼ in the header, and cycles/flips sort', () => {
    const m = new DashboardModel({ bridge: 'cni0', netns: 'node' });
    m.setFlows(FLOWS, 1001);
    const p = m.flowPane(100, 10);
    expect(p.header).toMatch(/bytes▼/);
    expect(plain(p.lines).map((l) => l.split(/\s+/)[0])).toEqual(['tcp', 'udp', 'icmp']);
    m.cycleSort();
    expect(m.flowPane(100, 10).header).toMatch(/pkts▼/);
    expect(plain(m.flowPane(100, 10).lines)[0]).toMatch(/^udp/);
    m.sortBy('packets');
    expect(m.flowPane(100, 10).header).toMatch(/pkts▲/);
    expect(plain(m.flowPane(100, 10).lines)[0]).toMatch(/^icmp/);
    m.sortBy('rate');
    expect(m.flowPane(100, 10).header).toMatch(/rate▼/);
    expect(plain(m.flowPane(100, 10).lines)[0]).toMatch(/^icmp/);
  });

  it('shows endpoints, totals, rate and badges; label counts flows', () => {
    const m = new DashboardModel({ bridge: 'cni0' });
    m.setFlows(FLOWS, 1001, 3, '1 evicted');
    const p = m.flowPane(110, 10);
    const icmp = plain(p.lines).find((l) => l.startsWith('icmp'))!;
    expect(icmp).toContain('10.244.1.2 ⇄ 10.244.1.9');
    expect(icmp).toContain('980B');
    expect(icmp).toContain('40.0kb/s');
    expect(icmp).toContain('NOREPLY');
    expect(p.lines.find((l) => l.includes('NOREPLY'))).toContain('{red-fg}');
    expect(p.label).toContain('flows 3');
    expect(p.label).toContain('1 evicted');
    for (const l of plain(p.lines)) expect(l.length).toBeLessThanOrEqual(110);
  });

  it('filters by words (all must match, ! excludes) and says when nothing matches', () => {
    const m = new DashboardModel({ bridge: 'cni0' });
    m.setFlows(FLOWS, 1001);
    m.setFlowFilter('10.244.1.2 !icmp');
    expect(plain(m.flowPane(100, 10).lines)).toHaveLength(1);
    expect(m.flowPane(100, 10).label).toContain('1 of 3');
    m.setFlowFilter('noreply');
    expect(plain(m.flowPane(100, 10).lines)[0]).toMatch(/^icmp/);
    m.setFlowFilter('sctp');
    expect(plain(m.flowPane(100, 10).lines)[0]).toMatch(/no flow matches "sctp"/);
    m.setFlowFilter('');
    expect(m.visibleFlows()).toHaveLength(3);
  });

  it('selection follows the flow across re-sorts and scrolls into view', () => {
    const m = new DashboardModel({ bridge: 'cni0' });
    const many = Array.from({ length: 30 }, (_, i) => flow({ key: `f${i}`, bytesAB: 1000 * (30 - i) }));
    m.setFlows(many, 1001);
    m.move(1);
    expect(m.selectedFlow()?.key).toBe('f1');
    m.setFlows(many.map((f) => (f.key === 'f1' ? { ...f, bytesAB: 1e9 } : f)), 1002);
    expect(m.selectedFlow()?.key).toBe('f1');
    expect(m.flowPane(100, 11).lines[0]).toContain('{inverse}');
    m.moveToEnd('bottom');
    expect(m.selectedFlow()?.key).toBe('f29');
    const lines = m.flowPane(100, 11).lines; // 10 body rows
    expect(lines).toHaveLength(10);
    expect(lines[9]).toContain('{inverse}');
  });

  it('pause freezes panes while capture counters keep moving; resume shows the latest', () => {
    const m = new DashboardModel({ bridge: 'cni0' });
    m.setFlows([FLOWS[0]], 1000);
    m.sample(1000, 0, 0);
    m.togglePause();
    m.setFlows(FLOWS, 1001);
    m.sample(1001, 500, 50_000);
    expect(m.visibleFlows()).toHaveLength(1);
    expect(stripTags(m.statusLine(200))).toContain('PAUSED');
    expect(stripTags(m.statusLine(200))).toContain('500/s');
    m.togglePause();
    expect(m.visibleFlows()).toHaveLength(3);
    expect(stripTags(m.statusLine(200))).toContain('● live');
  });

  it('detail shows the flow counters and its packets; closes on toggle', () => {
    const m = new DashboardModel({ bridge: 'cni0' });
    m.setFlows(FLOWS, 1005);
    expect(m.toggleDetail()?.key).toBe('big');
    m.setDetailPackets(['07:00:00.000001 IP 10.244.1.2.40000 > 10.244.1.3.5001: Flags [S]']);
    const d = m.detailLines();
    expect(d.lines.join('\n')).toContain('10.244.1.2:40000 → 10.244.1.3:5001: 100 pkts 9.0MB');
    expect(d.lines.join('\n')).toContain('Flags [S]');
    m.toggleDetail();
    expect(m.detailKey).toBeUndefined();
  });
});

describe('DashboardModel host panes', () => {
  it('merges the kernel FDB with wire MACs, resolves pods and highlights moves', () => {
    const m = new DashboardModel({ bridge: 'cni0', netns: 'node' });
    m.setFdb(
      [
        { mac: '02:00:00:00:00:0a', port: 'veth-a', flags: [], ageSec: 3, pod: 'pod-a', ips: ['10.244.1.2'] },
        { mac: '02:00:00:00:00:0b', port: 'veth-b', flags: [], ageSec: 1, pod: 'pod-b', ips: ['10.244.1.3'] },
        { mac: '33:33:00:00:00:01', port: 'cni0', flags: ['self', 'permanent'], ips: [] },
        { mac: 'ee:00:00:00:00:01', port: 'veth-a', flags: ['permanent'], ips: [] },
      ],
      [],
      1000,
    );
    m.setWireMacs([{ mac: '02:00:00:00:00:0c', iface: 'node/cni0', lastSec: 999, ips: ['10.244.1.4'] }], [], 1000);
    let p = m.macPane(90, 20);
    const lines = plain(p.lines);
    expect(lines[0]).toMatch(/^mac\s+port/);
    expect(lines[1]).toMatch(/^02:00:00:00:00:0a veth-a .*10.244.1.2 pod-a/);
    expect(lines[2]).toMatch(/^02:00:00:00:00:0b veth-b .*10.244.1.3 pod-b/);
    expect(lines.find((l) => l.startsWith('02:00:00:00:00:0c'))).toContain('(node/cni0)');
    expect(lines.join('\n')).not.toContain('33:33:00:00:00:01');
    expect(lines[lines.length - 1]).toMatch(/^ee:00:00:00:00:01 .*bridge \(local\)/);
    expect(p.label).toContain('1 multicast hidden');
    // Narrow: IP and pod on a second line; labels never exceed the box.
    const narrow = m.macPane(40, 20);
    const nl = plain(narrow.lines);
    expect(nl[1]).toMatch(/^02:00:00:00:00:0a veth-a\s+3s$/);
    expect(nl[2]).toBe('  10.244.1.2 pod-a');
    for (const l of nl) expect(l.length).toBeLessThanOrEqual(40);
    expect(stripTags(narrow.label).length).toBeLessThanOrEqual(38);
    m.setFdb(
      [{ mac: '02:00:00:00:00:0a', port: 'veth-b', flags: [], ageSec: 0, pod: 'pod-a', ips: ['10.244.1.2'] }],
      [{ mac: '02:00:00:00:00:0a', from: 'veth-a', to: 'veth-b' }],
      1002,
    );
    p = m.macPane(90, 20);
    const moved = p.lines.find((l) => l.includes('02:00:00:00:00:0a'))!;
    expect(stripTags(moved)).toContain('MOVED veth-a→veth-b');
    expect(moved).toContain('{yellow-fg}');
    expect(p.label).toContain('1 moved');
    m.setFdb([], [], 1002 + 31);
    m.setWireMacs([], [], 1002 + 31);
    expect(m.macPane(90, 20).label).not.toContain('moved');
  });

  it('lists rules that moved, flags DROP hits, keeps stale ones briefly', () => {
    const m = new DashboardModel({ bridge: 'cni0', netns: 'node' });
    m.setRules(
      [
        rule({ key: 'drop', packets: 6, dPackets: 3, pps: 1.5, hitDrop: true }),
        rule({ key: 'acc', position: 2, text: '-j ACCEPT', target: 'ACCEPT', packets: 100, dPackets: 50, pps: 25 }),
        rule({ key: 'idle', position: 3, text: '-j LOG', target: 'LOG', packets: 7 }),
      ],
      1000,
    );
    let lines = plain(m.rulePane(100, 10).lines);
    expect(lines[0]).toMatch(/Δpkts/);
    expect(lines[1]).toMatch(/^DROP\s+\+3\s+1.5\/s\s+6 filter\/FORWARD #1 -s 10.244.1.4\/32/);
    expect(lines[2]).toMatch(/\+50 .*#2 -j ACCEPT/);
    expect(lines.join('\n')).not.toContain('-j LOG');
    expect(m.rulePane(100, 10).lines[1]).toContain('{red-fg}');
    expect(m.rulePane(100, 10).label).toContain('1 DROP/REJECT hit');
    // Next poll: only ACCEPT moved; the DROP rule stays listed (not fresh, delta shown as +0).
    m.setRules([rule({ key: 'drop', packets: 6, hitDrop: false }), rule({ key: 'acc', position: 2, text: '-j ACCEPT', target: 'ACCEPT', packets: 110, dPackets: 10, pps: 5 })], 1002);
    lines = plain(m.rulePane(100, 10).lines);
    expect(lines[1]).toMatch(/\+10 .*-j ACCEPT/);
    expect(lines[2]).toMatch(/\+0 .*#1/);
    // A narrow pane wraps the rule text instead of cutting off the part that matters (port, target).
    const narrow = plain(m.rulePane(70, 10).lines);
    const at = narrow.findIndex((l) => l.includes('#1'));
    expect(narrow[at + 1]).toMatch(/^\s{30}\S/);
    expect(narrow.slice(at, at + 3).map((l) => l.slice(30).trim()).join(' ')).toContain('--dport 8080 -j DROP');
    // Very narrow: rate and total make room for the rule.
    const tiny = plain(m.rulePane(40, 10).lines);
    expect(tiny[0]).toMatch(/^\s+Δpkts rule$/);
    expect(tiny.find((l) => l.includes('#1'))).toMatch(/^\s+\+0 filter\/FORWARD #1 -s/);
    for (const l of tiny) expect(l.length).toBeLessThanOrEqual(40);
    m.setRules([rule({ key: 'acc', position: 2, text: '-j ACCEPT', target: 'ACCEPT', packets: 110 })], 1002 + RULE_STICKY_SEC + 1);
    expect(plain(m.rulePane(100, 10).lines)[1]).toMatch(/no rule counter moved/);
  });

  it('shows poller errors in their pane and the topology with link state colours', () => {
    const m = new DashboardModel({ bridge: 'cni0' });
    m.setError('rules', 'iptables-save not found');
    expect(plain(m.rulePane(80, 5).lines).join('\n')).toContain('rules: iptables-save not found');
    m.setTopology([{ text: 'cni0 bridge UP' }, { text: '├── veth-a veth DOWN', severity: 'bad' }]);
    const t = m.topologyPane(80, 5);
    expect(plain(t.lines)).toEqual(['cni0 bridge UP', '├── veth-a veth DOWN']);
    expect(t.lines[1]).toContain('{red-fg}');
  });

  it('escapes braces in user data', () => {
    const m = new DashboardModel({ bridge: 'cni0' });
    m.setTopology([{ text: 'alias "{weird}"' }]);
    expect(m.topologyPane(80, 5).lines[0]).toBe('alias "{open}weird{close}"');
  });

  it('status line: rates from samples, per-source counts and visible losses; sparkline history', () => {
    const m = new DashboardModel({ bridge: 'cni0', captureFilter: 'not port 22' });
    m.sample(1000, 0, 0);
    m.sample(1001, 100_000, 12_500_000);
    m.setSources([{ target: 'node/cni0', packets: 100_000, bytes: 12_500_000, ifDrops: 7, agentDrops: 0 }]);
    m.setCpu(23.4);
    const s = stripTags(m.statusLine(200));
    expect(s).toContain('cpu 23%');
    expect(s).toContain('100k/s 100Mb/s');
    expect(s).toContain('on node/cni0 100k');
    expect(s).toContain('dropped node/cni0 iface 7');
    expect(s).toContain('bpf "not port 22"');
    expect(stripTags(m.statusLine(60)).length).toBeLessThanOrEqual(60 + 10);
    const r = m.rateSeries(10);
    expect(r.data[0]).toEqual([100_000]);
    expect(r.titles[0]).toContain('100k');
  });

  it('drop accounting per interface, like tcpdump at exit: only the counters that are known', () => {
    expect(dropAccounting([])).toBe('dropped n/a');
    const zero = [{ target: 'node/cni0', packets: 5, bytes: 300, kernelDrops: 0, ifDrops: 0, agentDrops: 0 }];
    expect(dropAccounting(zero)).toBe('dropped 0 (kernel 0 · iface 0 · agent 0)');
    expect(dropAccounting([{ target: 'node/cni0', packets: 5, bytes: 300, agentDrops: 0 }])).toBe('dropped 0 (agent 0)');
    const two = [
      { target: 'node/cni0', packets: 5, bytes: 300, kernelDrops: 1200, ifDrops: 0, agentDrops: 3 },
      { target: 'pod-a/eth0', packets: 5, bytes: 300, kernelDrops: 0, ifDrops: 2, agentDrops: 0 },
      { target: 'pod-b/eth0', packets: 5, bytes: 300, kernelDrops: 0, ifDrops: 0, agentDrops: 0 },
    ];
    expect(stripTags(dropAccounting(two))).toBe('dropped node/cni0 kernel 1.2k agent 3, pod-a/eth0 iface 2');
    expect(dropAccounting(two)).toMatch(/^\{red-fg\}/);
  });

  it('tab cycles focus; arrows scroll non-flow panes', () => {
    const m = new DashboardModel({ bridge: 'cni0' });
    m.setTopology(Array.from({ length: 20 }, (_, i) => ({ text: `line ${i}` })));
    expect(m.focus).toBe('flows');
    m.cycleFocus();
    expect(m.focus).toBe('problems');
    m.cycleFocus();
    m.cycleFocus();
    m.cycleFocus();
    expect(m.focus).toBe('topology');
    m.move(5);
    expect(plain(m.topologyPane(40, 4).lines)).toEqual(['line 5', 'line 6', 'line 7', 'line 8']);
    m.moveToEnd('bottom');
    expect(plain(m.topologyPane(40, 4).lines)[3]).toBe('line 19');
    m.cycleFocus(true);
    expect(m.focus).toBe('rules');
  });

  it('problems pane: kinds in the digest order with counts, the top few, and how many more', () => {
    const m = new DashboardModel({ bridge: 'cni0' });
    expect(plain(m.problemsPane(60, 10).lines)).toEqual(['waiting for the first flow snapshot…']);
    m.setProblems([]);
    expect(plain(m.problemsPane(60, 10).lines)).toEqual(['no problems seen']);
    m.setProblems([
      { kind: 'tcp-failed-connect', count: 5, top: ['TCP 10.244.1.4:41000 → 10.244.1.3:8080: no answer to 3 SYN(s)', 'TCP b', 'TCP c'] },
      { kind: 'mac-move', count: 1, top: ['MAC 02:00:00:00:00:0a moved 1×: veth-a → veth-b'] },
    ]);
    const p = m.problemsPane(40, 10);
    expect(stripTags(p.label)).toBe(' problems: 6 in 2 kinds ');
    expect(plain(p.lines)).toEqual([
      '5× failed TCP connects',
      '  TCP 10.244.1.4:41000 → 10.244.1.3:808…',
      '  TCP b',
      '  TCP c',
      '  … 2 more',
      '1× MAC moves',
      '  MAC 02:00:00:00:00:0a moved 1×: veth-…',
    ]);
    expect(p.lines[0]).toContain('{red-fg}');
    expect(p.lines[5]).toContain('{yellow-fg}');
    expect(m.problemsPane(40, 3).lines).toHaveLength(3);
  });
});

describe('mergeMacs', () => {
  it('prefers the learned entry when a MAC is both permanent and learned', () => {
    const rows = mergeMacs(
      [
        { mac: '02:00:00:00:00:01', port: 'veth-a', flags: [], ips: [] },
        { mac: '02:00:00:00:00:01', port: 'cni0', flags: ['permanent'], ips: [] },
      ],
      [],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].port).toBe('veth-a');
  });
});

describe('layout', () => {
  it('fits every pane inside the screen and refuses tiny terminals', () => {
    for (const [cols, rows] of [[80, 24], [120, 40], [200, 60]] as const) {
      const l = computeLayout(cols, rows);
      for (const r of Object.values(l)) {
        expect(r.left + r.width).toBeLessThanOrEqual(cols);
        expect(r.top + r.height).toBeLessThanOrEqual(rows);
        expect(r.height).toBeGreaterThan(0);
      }
    }
    expect(tooSmall(79, 30)).toMatch(/at least 80x24/);
    expect(tooSmall(80, 24)).toBeUndefined();
  });
});
