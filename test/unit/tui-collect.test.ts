import type { FlowRecord } from '../../src/analysis/flows';
import { PROBLEM_ORDER } from '../../src/analysis/problems';
import { arp, ether, icmpEcho, icmpError, ipv4, tcp, udp } from '../../src/decode/craft';
import { LinkType, type PacketRecord } from '../../src/pcap/record';
import { flowBadges, flowsFromSnapshot, problemGroups, ruleRows, ruleText, topologyLines, tsSeconds, WireMacTracker } from '../../src/tui/adapt';
import { TrafficCollector } from '../../src/tui/collector';
import { pickBridge, WatchError } from '../../src/tui/liveSources';
import { DashboardModel } from '../../src/tui/model';
import { PacketRing } from '../../src/tui/packetRing';
import { stripTags } from '../../src/tui/format';
import type { Topology } from '../../src/topology/discover';
import type { RuleDelta } from '../../src/host/rules';

const MAC_A = '02:00:00:00:00:0a';
const MAC_B = '02:00:00:00:00:0b';
const A = '10.244.1.2';
const B = '10.244.1.3';
const T0 = 1_800_000_000;

function rec(frame: Buffer, sec: number, nsec = 0, iface = 'node/cni0'): PacketRecord {
  // A larger buffer with an offset: consumers must honour offset/caplen, as with capture chunks.
  const buf = Buffer.alloc(frame.length + 16, 0xee);
  frame.copy(buf, 8);
  return { buf, offset: 8, caplen: frame.length, len: frame.length, tsSec: sec, tsNsec: nsec, linktype: LinkType.EN10MB, ifIndex: 0, iface };
}

const IP = { TCP: 6, UDP: 17, ICMP: 1 };
const tcpFrame = (src: string, dst: string, sport: number, dport: number, flags: string, payload = Buffer.alloc(0), smac = MAC_A, dmac = MAC_B): Buffer =>
  ether(dmac, smac, 0x0800, ipv4({ src, dst, proto: IP.TCP }, tcp({ sport, dport, flags }, payload)));
const echo = (type: 0 | 8, src: string, dst: string, id: number, seq: number, smac = MAC_A, dmac = MAC_B): Buffer =>
  ether(dmac, smac, 0x0800, ipv4({ src, dst, proto: IP.ICMP }, icmpEcho(type, id, seq)));

/** A small scene: an HTTP-ish transfer, a SYN that gets no answer, a ping answered and one not, ARP for an absent pod. */
function scene(c: TrafficCollector): void {
  let t = T0;
  c.add(rec(tcpFrame(A, B, 40000, 80, 'S'), t, 1000));
  c.add(rec(tcpFrame(B, A, 80, 40000, 'SA', undefined, MAC_B, MAC_A), t, 2000));
  c.add(rec(tcpFrame(A, B, 40000, 80, 'A'), t, 3000));
  for (let i = 0; i < 10; i++) c.add(rec(tcpFrame(B, A, 80, 40000, 'PA', Buffer.alloc(1000, 1), MAC_B, MAC_A), t, 10_000 + i));
  c.add(rec(tcpFrame('10.244.1.4', B, 41000, 8080, 'S', undefined, '02:00:00:00:00:0c'), t, 5000));
  c.add(rec(tcpFrame('10.244.1.4', B, 41000, 8080, 'S', undefined, '02:00:00:00:00:0c'), t + 1, 5000));
  c.add(rec(echo(8, A, B, 7, 1), t, 6000));
  c.add(rec(echo(0, B, A, 7, 1, MAC_B, MAC_A), t, 6500));
  for (let s = 1; s <= 3; s++) c.add(rec(echo(8, A, '10.244.1.9', 9, s), t + s - 1, 7000));
  for (let i = 0; i < 3; i++) c.add(rec(ether('ff:ff:ff:ff:ff:ff', MAC_A, 0x0806, arp(1, MAC_A, A, '00:00:00:00:00:00', '10.244.1.99')), t + i, 8000));
  // A UDP packet answered by port unreachable: the ICMP error belongs to the UDP flow.
  const udpIp = ipv4({ src: A, dst: B, proto: IP.UDP }, udp(5353, 9999, Buffer.from('hi')));
  c.add(rec(ether(MAC_B, MAC_A, 0x0800, udpIp), t, 9000));
  c.add(rec(ether(MAC_A, MAC_B, 0x0800, ipv4({ src: B, dst: A, proto: IP.ICMP }, icmpError(3, 3, udpIp.subarray(0, 28)))), t, 9500));
  t += 3;
}

describe('TrafficCollector + adapters (real decoder and flow engine)', () => {
  it('turns a snapshot into rows with state badges, and the model shows them', () => {
    const c = new TrafficCollector();
    scene(c);
    const now = T0 + 3;
    const snap = c.snapshot(now, 'bytes', 100);
    const { flows, total } = flowsFromSnapshot(snap, now);
    expect(total).toBe(snap.counters.flows);
    const by = (a: string, b: string): (typeof flows)[number] | undefined => flows.find((f) => f.a === a && f.b.startsWith(b));
    const http = by(`${A}:40000`, `${B}:80`)!;
    expect(http.state).toBe('established');
    expect(http.badges).toEqual([]);
    expect(http.packetsAB).toBe(2);
    expect(http.packetsBA).toBe(11);
    const syn = by('10.244.1.4:41000', `${B}:8080`)!;
    expect(syn.state).toBe('syn-sent');
    expect(syn.badges.map((b) => b.text)).toEqual(['FAIL']);
    expect(syn.notes.join('\n')).toMatch(/1 SYN retransmission/);
    expect(by(A, `${B} id 7`)!.badges).toEqual([]);
    expect(by(A, `${B} id 7`)!.state).toBe('echo 1/1');
    expect(by(A, '10.244.1.9 id 9')!.badges.map((b) => b.text)).toEqual(['NOREPLY']);
    const arpFlow = flows.find((f) => f.proto === 'arp')!;
    expect(arpFlow.b).toBe('10.244.1.99');
    expect(arpFlow.badges.map((b) => b.text)).toEqual(['ARP?']);
    const udpFlow = flows.find((f) => f.proto === 'udp')!;
    expect(udpFlow.badges.map((b) => b.text)).toEqual(['PORT-UNREACH']);

    const m = new DashboardModel({ bridge: 'cni0', netns: 'node' });
    m.setFlows(flows, now, total);
    const text = m.flowPane(110, 20).lines.map(stripTags).join('\n');
    expect(text).toMatch(/tcp\s+10\.244\.1\.4:41000 ⇄ 10\.244\.1\.3:8080 .*syn-sent FAIL/);
    expect(text).toMatch(/arp\s+10\.244\.1\.2 ⇄ 10\.244\.1\.99 .*arp 0\/3 ARP\?/);
    expect(text.split('\n')[0]).toMatch(/^tcp\s+10\.244\.1\.2:40000 ⇄ 10\.244\.1\.3:80/); // most bytes first
  });

  it('problem groups: the engine\'s problems by kind, in its order, with the first few lines', () => {
    const c = new TrafficCollector();
    scene(c);
    const snap = c.snapshot(T0 + 3, 'bytes', 100);
    const groups = problemGroups(snap.problems, 2);
    expect(groups.map((g) => g.kind)).toEqual([...new Set(snap.problems.map((p) => p.kind))].sort((a, b) => PROBLEM_ORDER.indexOf(a) - PROBLEM_ORDER.indexOf(b)));
    for (const g of groups) {
      const all = snap.problems.filter((p) => p.kind === g.kind);
      expect(g.count).toBe(all.length);
      expect(g.top).toEqual(all.slice(0, 2).map((p) => p.text));
    }
    expect(groups[0].kind).toBe('tcp-failed-connect');
    expect(groups[0].top[0]).toMatch(/^TCP connect 10\.244\.1\.4 → 10\.244\.1\.3:8080 failed/);
  });

  it('counts the first capture target (the bridge) apart from extra interfaces', () => {
    const c = new TrafficCollector();
    const r0 = rec(echo(8, A, B, 1, 1), T0);
    c.add(r0);
    const r1 = rec(echo(8, A, B, 1, 2), T0, 0, 'pod-a/eth0');
    r1.ifIndex = 1;
    c.add(r1);
    expect([c.packets, c.firstTargetPackets, c.firstTargetBytes]).toEqual([2, 1, r0.len]);
  });

  it('a SYN or echo request in flight is not a failure yet', () => {
    const c = new TrafficCollector();
    c.add(rec(tcpFrame(A, B, 40001, 80, 'S'), T0, 0));
    c.add(rec(echo(8, A, B, 3, 1), T0, 0));
    const snap = c.snapshot(T0 + 0.2, 'bytes', 0);
    for (const f of snap.flows) expect(flowBadges(f, T0 + 0.2).badges).toEqual([]);
    for (const f of snap.flows) expect(flowBadges(f, T0 + 2).badges).toHaveLength(1);
  });

  it('detail: keeps the watched flow packets (seeded from recent ones) as decoded lines', () => {
    const c = new TrafficCollector({ recentPackets: 64, detailPackets: 8 });
    scene(c);
    const snap = c.snapshot(T0 + 3, 'bytes', 0);
    const udpFlow = snap.flows.find((f) => f.proto === 'udp') as FlowRecord;
    c.watchFlow(udpFlow);
    const lines = c.detailLines();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^node\/cni0 .*10\.244\.1\.2\.5353 > 10\.244\.1\.3\.9999: UDP/);
    expect(lines[1]).toMatch(/ICMP 10\.244\.1\.3 udp port 9999 unreachable/);
    const synFlow = snap.flows.find((f) => f.bPort === 8080) as FlowRecord;
    c.watchFlow(synFlow);
    const v0 = c.detailVersion;
    c.add(rec(tcpFrame('10.244.1.4', B, 41000, 8080, 'S', undefined, '02:00:00:00:00:0c'), T0 + 3, 0));
    c.add(rec(tcpFrame(A, B, 40000, 80, 'A'), T0 + 3, 1)); // another flow: not kept
    expect(c.detailVersion).toBe(v0 + 1);
    expect(c.detailLines()).toHaveLength(3);
    for (const l of c.detailLines()) expect(l).toMatch(/10\.244\.1\.4\.41000 > 10\.244\.1\.3\.8080: Flags \[S\]/);
    c.unwatchFlow();
    expect(c.detailLines()).toEqual([]);
  });

  it('wire MACs and their moves between capture interfaces', () => {
    const c = new TrafficCollector();
    const tracker = new WireMacTracker();
    c.add(rec(echo(8, A, B, 1, 1), T0, 0, 'node/cni0'));
    let r = tracker.update(c.snapshot(T0, 'bytes', 0).macs);
    expect(r.macs.map((x) => [x.mac, x.iface])).toEqual([[MAC_A, 'node/cni0']]);
    expect(r.moved).toEqual([]);
    c.add(rec(echo(8, A, B, 1, 2), T0 + 1, 0, 'pod-a/eth0'));
    r = tracker.update(c.snapshot(T0 + 1, 'bytes', 0).macs);
    expect(r.moved).toEqual([{ mac: MAC_A, from: 'node/cni0', to: 'pod-a/eth0' }]);
  });
});

describe('PacketRing', () => {
  it('keeps the newest packets, oldest first, cut to snap bytes', () => {
    const ring = new PacketRing(3, 16);
    for (let i = 0; i < 5; i++) ring.push(rec(Buffer.alloc(40, i), T0 + i));
    const seen: Array<[number, number, number]> = [];
    ring.forEach((r) => seen.push([r.tsSec - T0, r.caplen, r.buf[r.offset]]));
    expect(seen).toEqual([
      [2, 16, 2],
      [3, 16, 3],
      [4, 16, 4],
    ]);
    expect(ring.size).toBe(3);
  });
});

describe('adapters for host state', () => {
  it('rule rows keep counted rules with deltas and DROP hits', () => {
    const base = { backend: 'iptables-nft', family: 'ip', table: 'filter', chain: 'FORWARD', bytes: 0, dBytes: 0, bps: 0, isNew: false } as const;
    const rows = ruleRows([
      { ...base, key: 'k1', position: 1, text: '-p tcp --dport 8080 -j DROP', target: 'DROP', packets: 5, counted: true, dPackets: 2, pps: 1, hitDrop: true },
      { ...base, key: 'k2', backend: 'nft', family: 'inet', table: 'inet t', position: 1, text: 'accept', target: 'accept', packets: 0, counted: false, dPackets: 0, pps: 0, hitDrop: false },
      { ...base, key: 'k3', backend: 'ip6tables-nft', family: 'ip6', position: 0, text: 'policy ACCEPT', target: 'ACCEPT', packets: 3, counted: true, dPackets: 1, pps: 0.5, hitDrop: false },
    ] as RuleDelta[]);
    expect(rows.map((r) => [r.key, r.table, r.hitDrop])).toEqual([
      ['k1', 'filter', true],
      ['k3', 'ip6 filter', false],
    ]);
  });

  it('rule text: comment matches move out of the way, ownership markers are dropped', () => {
    const base = { key: 'k', backend: 'iptables-nft', family: 'ip', table: 'filter', chain: 'FORWARD', position: 1, target: 'DROP', packets: 1, bytes: 1, counted: true, dPackets: 1, dBytes: 1, pps: 1, bps: 1, hitDrop: true, isNew: false } as const;
    expect(ruleText({ ...base, text: '-s 10.244.9.4/32 -p tcp -m comment --comment "netscope:demo-lab #0123abcd" -j DROP', comment: 'netscope:demo-lab #0123abcd' } as RuleDelta)).toBe(
      '-s 10.244.9.4/32 -p tcp -j DROP',
    );
    expect(ruleText({ ...base, text: '-p tcp -m comment --comment "block \\"x\\" now" -j DROP', comment: 'block "x" now' } as RuleDelta)).toBe('-p tcp -j DROP  # block "x" now');
    expect(ruleText({ ...base, text: '-m comment --comment web -j KUBE-SVC-X', comment: 'web', service: 'default/web' } as RuleDelta)).toBe('-j KUBE-SVC-X');
    expect(ruleText({ ...base, text: '-p udp -j ACCEPT' } as RuleDelta)).toBe('-p udp -j ACCEPT');
  });

  it('topology lines come from the shared tree renderer, limited to the bridge namespace, with down links marked', () => {
    const iface = (over: Partial<Topology['interfaces'][number]>): Topology['interfaces'][number] => ({
      netns: 'node',
      ifindex: 1,
      name: 'x',
      kind: 'veth',
      state: 'UP',
      up: true,
      mac: '02:00:00:00:00:01',
      mtu: 1500,
      addrs: [],
      ...over,
    });
    const topo: Topology = {
      namespaces: [
        { id: 'node', name: 'node', label: 'node', inode: 1 },
        { id: 'other', name: 'other', label: 'other', inode: 2 },
        { id: 'pod-a', name: 'pod-a', label: 'pod-a', inode: 3 },
      ],
      interfaces: [
        iface({ ifindex: 2, name: 'cni0', kind: 'bridge', addrs: [{ family: 'inet', local: '10.244.1.1', prefixlen: 24 }] }),
        iface({ ifindex: 3, name: 'veth-a', master: 'cni0', peer: { netns: 'pod-a', ifname: 'eth0', ifindex: 2 } }),
        iface({ ifindex: 4, name: 'veth-b', master: 'cni0', state: 'DOWN', up: false }),
        iface({ netns: 'pod-a', ifindex: 2, name: 'eth0', addrs: [{ family: 'inet', local: '10.244.1.2', prefixlen: 24 }] }),
        iface({ netns: 'other', ifindex: 2, name: 'cni0', kind: 'bridge' }),
      ],
      routes: [],
      neighbours: [],
    };
    const lines = topologyLines(topo, topo.interfaces[0]);
    const text = lines.map((l) => l.text).join('\n');
    expect(text).toContain('cni0 bridge UP');
    expect(text).toMatch(/veth-a veth UP/);
    expect(text).toMatch(/⇄ eth0 UP in namespace pod-a 10\.244\.1\.2\/24/);
    expect(text).not.toContain('other');
    expect(lines.find((l) => l.text.includes('veth-b'))?.severity).toBe('bad');
    expect(lines[lines.length - 1]).toEqual({ text: '2 port(s), 1 down', severity: 'warn' });
  });

  it('picks the bridge the user named; unknown or ambiguous names list what exists', () => {
    const br = (netns: string, name: string): Topology['interfaces'][number] => ({ netns, ifindex: 2, name, kind: 'bridge', state: 'UP', up: true, mac: '02:00:00:00:00:01', mtu: 1500, addrs: [] });
    const topo: Topology = {
      namespaces: [
        { id: '', label: 'host', inode: 1 },
        { id: 'node1', name: 'node1', label: 'node1', inode: 2 },
        { id: 'node2', name: 'node2', label: 'node2', inode: 3 },
      ],
      interfaces: [br('node1', 'cni0'), br('node2', 'cni0'), br('', 'br0')],
      routes: [],
      neighbours: [],
    };
    expect(pickBridge(topo, 'cni0', 'node2').netns).toBe('node2');
    expect(pickBridge(topo, 'br0', undefined).netns).toBe('');
    expect(pickBridge(topo, 'br0', 'host').netns).toBe('');
    const err = (f: () => unknown): WatchError => {
      try {
        f();
      } catch (e) {
        return e as WatchError;
      }
      throw new Error('no error');
    };
    const amb = err(() => pickBridge(topo, 'cni0', undefined));
    expect(amb.message).toBe('bridge "cni0" exists in 2 namespaces; name one: cni0@node1, cni0@node2');
    expect(amb.usage).toBe(true);
    expect(err(() => pickBridge(topo, 'br9', 'node1')).message).toBe('no bridge "br9" in namespace "node1"; bridges netscope can see: br0@host, cni0@node1, cni0@node2');
    expect(err(() => pickBridge(topo, 'cni0', 'node9')).message).toMatch(/^no network namespace "node9" \(namespaces: host, node1, node2\)$/);
  });

  it('parses capture timestamps', () => {
    expect(tsSeconds('1800000000.123456789')).toBeCloseTo(1800000000.123457, 5);
    expect(tsSeconds('5')).toBe(5);
  });
});
