/**
 * The dashboard with fake sources, frame by frame: a capture fixture replayed through the parser LiveCapture
 * uses, FDB and rule pollers the test feeds, a clock the test advances. Each step's whole screen (blessed on a
 * fake terminal of fixed size) is compared with a stored snapshot; a few facts are also asserted by name so a
 * blindly re-blessed snapshot cannot hide a regression.
 */
import path from 'path';
import type { FdbEntry } from '../../src/host/fdb';
import { resolveFdb } from '../../src/host/fdb-resolve';
import type { RuleCounter, RulesSnapshot } from '../../src/host/rules';
import type { IfInfo, Topology } from '../../src/topology/discover';
import { Dashboard } from '../../src/tui/dashboard';
import { headlessTerminal, type HeadlessTerminal } from '../../src/tui/headless';
import type { BridgeState } from '../../src/tui/sources';
import { FakeClock, FakePoller, FixtureRecords } from '../helpers/dashboardFakes';

const FIXTURE = path.resolve(__dirname, '..', '..', 'fixtures', 'flows', 'basic.pcap');
const COLS = 160;
const ROWS = 48;

function iface(over: Partial<IfInfo> & { name: string; ifindex: number }): IfInfo {
  return { netns: 'node', kind: 'veth', state: 'UP', up: true, mac: '02:00:00:00:00:ff', mtu: 1500, addrs: [], ...over };
}

/** The fixture's hosts (10.244.60.x, MACs 02:f1:…) as pods on a bridge cni0 in namespace "node". */
function topology(): Topology {
  const pod = (n: string, mac: string, ip: string, port: string, ifindex: number): IfInfo[] => [
    iface({ name: port, ifindex, master: 'cni0', peer: { netns: `pod-${n}`, ifname: 'eth0', ifindex: 2 } }),
    iface({ netns: `pod-${n}`, name: 'eth0', ifindex: 2, mac, addrs: [{ family: 'inet', local: ip, prefixlen: 24 }], peer: { netns: 'node', ifname: port, ifindex } }),
  ];
  return {
    namespaces: ['node', 'pod-1', 'pod-2', 'pod-9'].map((id, i) => ({ id, name: id, label: id, inode: 100 + i })),
    interfaces: [
      iface({ name: 'cni0', ifindex: 2, kind: 'bridge', mac: '02:f1:00:00:00:fe', addrs: [{ family: 'inet', local: '10.244.60.254', prefixlen: 24 }] }),
      ...pod('1', '02:f1:00:00:00:01', '10.244.60.1', 'veth-1', 3),
      ...pod('2', '02:f1:00:00:00:02', '10.244.60.2', 'veth-2', 4),
      ...pod('9', '02:f1:00:00:00:d1', '10.244.60.9', 'veth-9', 5),
    ],
    routes: [],
    neighbours: [],
  };
}

function fdb(topo: Topology, ports: Record<string, string>): FdbEntry[] {
  const bridge = topo.interfaces[0];
  const entries: FdbEntry[] = Object.entries(ports).map(([mac, port]) => ({ mac, port, flags: [], usedSec: 3, master: 'cni0' }));
  entries.push({ mac: '02:f1:00:00:00:fe', port: 'cni0', flags: ['permanent'], master: 'cni0' });
  return resolveFdb(topo, bridge, entries);
}

function rules(dropPackets: number, acceptPackets: number): RulesSnapshot {
  const rule = (over: Partial<RuleCounter> & { key: string; position: number; text: string; target: string; packets: number }): RuleCounter => ({
    backend: 'iptables-nft',
    family: 'ip',
    table: 'filter',
    chain: 'FORWARD',
    bytes: over.packets * 60,
    counted: true,
    ...over,
  });
  return {
    rules: [
      rule({ key: 'drop', position: 1, text: '-s 10.244.60.1/32 -p tcp --dport 9 -j DROP', target: 'DROP', packets: dropPackets }),
      rule({ key: 'accept', position: 2, text: '-i cni0 -j ACCEPT', target: 'ACCEPT', packets: acceptPackets }),
      rule({ key: 'policy', position: 0, text: 'policy ACCEPT', target: 'ACCEPT', packets: 0 }),
    ],
    backends: ['iptables-nft'],
    summary: [{ backend: 'iptables-nft', tables: ['filter'], rules: 2 }],
    warnings: [],
  };
}

interface Rig {
  dash: Dashboard;
  clock: FakeClock;
  records: FixtureRecords;
  bridgeState: FakePoller<BridgeState>;
  rulePoll: FakePoller<RulesSnapshot>;
  term: HeadlessTerminal;
  topo: Topology;
  frame(): string;
  press(keys: string): Promise<void>;
}

async function rig(): Promise<Rig> {
  const topo = topology();
  const records = new FixtureRecords([{ file: FIXTURE, target: 'node/cni0' }]);
  // The clock starts where the fixture ends, so ages and in-flight judgements are those of a live capture.
  const clock = new FakeClock(Math.ceil(records.lastSec) + 0.5);
  const bridgeState = new FakePoller<BridgeState>();
  const rulePoll = new FakePoller<RulesSnapshot>();
  const term = headlessTerminal(COLS, ROWS);
  const dash = new Dashboard(
    { bridge: topo.interfaces[0], topo, view: { output: term.output, input: term.input, terminal: 'xterm', title: 'test' } },
    { records, bridgeState, rules: rulePoll, clock },
  );
  await dash.start();
  records.play();
  clock.advance(1000);
  return {
    dash,
    clock,
    records,
    bridgeState,
    rulePoll,
    term,
    topo,
    frame: () => dash.screenText(),
    press: async (keys: string) => {
      term.input.write(keys);
      await new Promise((r) => setImmediate(r));
      clock.advance(100);
    },
  };
}

describe('dashboard frames from fake sources', () => {
  let r: Rig | undefined;
  afterEach(async () => {
    await r?.dash.close();
    r = undefined;
  });

  it('flows pane: several flows, sort column and direction', async () => {
    r = await rig();
    let f = r.frame();
    expect(f.split('\n')).toHaveLength(ROWS);
    expect(f).toMatch(/flows \d+ · sort bytes ▼/);
    expect(f).toMatch(/tcp\s+10\.244\.60\.1:\d+ ⇄ 10\.244\.60\.2:8080 .*closed/);
    expect(f).toMatch(/ARP\?/);
    expect(f).toMatchSnapshot('bytes descending');
    await r.press('b');
    f = r.frame();
    expect(f).toMatch(/sort bytes ▲/);
    expect(f).toMatch(/bytes▲/);
    expect(f).toMatchSnapshot('bytes ascending');
    await r.press('p');
    expect(r.frame()).toMatch(/pkts▼/);
    expect(r.frame()).toMatchSnapshot('packets descending');
  });

  it('problems pane: the fixture\'s problems grouped by kind', async () => {
    r = await rig();
    const f = r.frame();
    expect(f).toMatch(/problems: \d+ in \d+ kinds/);
    expect(f).toMatch(/│2× failed TCP connects/);
    expect(f).toMatch(/│  TCP connect 10\.244\.60\.1 → 10\.244\.60\.51:80 failed/);
    expect(f).not.toMatch(/unanswered ARP/); // below the pane's fold
    await r.press('\t');
    expect(r.frame()).toMatch(/focus problems/);
    await r.press('jjjjjjjj'); // the focused pane scrolls
    expect(r.frame()).toMatch(/│\d+× unanswered ARP/);
    expect(r.frame()).toMatchSnapshot();
  });

  it('MAC table: FDB rows resolved to pods, a MAC that moved highlighted', async () => {
    r = await rig();
    const at = r.clock.now();
    r.bridgeState.push({ topo: r.topo, bridge: r.topo.interfaces[0], fdb: fdb(r.topo, { '02:f1:00:00:00:01': 'veth-1', '02:f1:00:00:00:02': 'veth-2', '02:f1:00:00:00:d1': 'veth-9' }) }, at);
    r.clock.advance(2000);
    r.bridgeState.push({ topo: r.topo, bridge: r.topo.interfaces[0], fdb: fdb(r.topo, { '02:f1:00:00:00:01': 'veth-1', '02:f1:00:00:00:02': 'veth-2', '02:f1:00:00:00:d1': 'veth-2' }) }, at + 2);
    r.clock.advance(100);
    const f = r.frame();
    expect(f).toMatch(/02:f1:00:00:00:01 veth-1\s+3s 10\.244\.60\.1 pod-1\/eth0/);
    expect(f).toMatch(/02:f1:00:00:00:d1 veth-2 .*MOVED veth-9→veth-2/);
    expect(f).toMatch(/MAC table cni0@node: \d+, 1 moved/);
    expect(f).toMatchSnapshot();
  });

  it('rule counters: a DROP rule whose counter rises', async () => {
    r = await rig();
    const at = r.clock.now();
    r.rulePoll.push(rules(5, 100), at);
    r.clock.advance(2000);
    r.rulePoll.push(rules(9, 130), at + 2);
    r.clock.advance(100);
    const f = r.frame();
    expect(f).toMatch(/rule counters in node: 2 moving, 1 DROP\/REJECT hit/);
    expect(f).toMatch(/DROP\s+\+4\s+2\/s\s+9 filter\/FORWARD #1 -s 10\.244\.60\.1\/32/);
    expect(f).toMatch(/\+30\s+15\/s\s+130 filter\/FORWARD #2 -i cni0 -j ACCEPT/);
    expect(f).toMatchSnapshot();
  });

  it('status bar: captured per interface and drops by kind', async () => {
    r = await rig();
    expect(r.frame().split('\n')[ROWS - 1]).toMatch(/● live │ .* │ captured on node\/cni0 47 │ dropped 0 \(agent 0\)/);
    r.records.drops[0] = { kernelDrops: 12, ifDrops: 0, agentDropped: 3 };
    r.clock.advance(1000);
    const status = r.frame().split('\n')[ROWS - 1];
    expect(status).toContain('dropped node/cni0 kernel 12 agent 3');
    expect(r.frame()).toMatchSnapshot();
  });

  it('help overlay', async () => {
    r = await rig();
    await r.press('?');
    expect(r.frame()).toContain('space       pause/resume');
    expect(r.frame()).toMatchSnapshot();
  });

  it('paused: the display holds while the sources move on', async () => {
    r = await rig();
    await r.press(' ');
    const f = r.frame();
    expect(f).toContain('PAUSED');
    r.rulePoll.push(rules(5, 100), r.clock.now());
    r.clock.advance(1000);
    expect(r.frame()).toContain('reading rule counters…'); // frozen: the poll result is not shown yet
    expect(r.frame()).toMatchSnapshot();
    await r.press(' ');
    expect(r.frame()).not.toContain('reading rule counters…');
  });

  it('filter prompt narrows the flows while typing', async () => {
    r = await rig();
    await r.press('/icmp');
    const f = r.frame();
    expect(f.split('\n')[ROWS - 1]).toContain('filter flows: icmp█');
    expect(f).toMatch(/flows \d+ of \d+ filter "icmp"/);
    expect(f).not.toMatch(/^│tcp /m);
    expect(f).toMatchSnapshot();
  });
});
