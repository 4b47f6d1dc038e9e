import { readFileSync } from 'fs';
import path from 'path';
import { FdbParseError, FdbWatch, fdbKey, isGroupMac, parseFdbJson, resolveFdb, type FdbDiff, type FdbEntry } from '../../src/host/fdb';
import { RecentChanges, renderFdb, parseBridgeRef, visibleEntries } from '../../src/cli/commands/fdb';
import type { IfInfo, Topology } from '../../src/topology/discover';

const fixture = (name: string): string => readFileSync(path.join(__dirname, '../../fixtures/host', name), 'utf8');

describe('bridge -j -s fdb parser', () => {
  const entries = parseFdbJson(fixture('bridge-fdb.json'));
  test('recorded FDB: learned, local, static and self entries with ages', () => {
    expect(entries).toHaveLength(16);
    const learned = entries.filter((e) => e.flags.includes('learned'));
    expect(learned.map((e) => e.port).sort()).toEqual(['nsrec7p1', 'nsrec7p2']);
    for (const e of learned) {
      expect(e.master).toBe('nsrec7br');
      expect(e.flags).toEqual(['learned', 'master']);
      expect(typeof e.usedSec).toBe('number');
      expect(typeof e.updatedSec).toBe('number');
    }
    const local = entries.filter((e) => e.flags.includes('local'));
    expect(local.map((e) => e.port).sort()).toEqual(['nsrec7p1', 'nsrec7p2']);
    expect(local[0].flags).toEqual(['local', 'permanent', 'master']);
    const stat = entries.find((e) => e.mac === '02:00:00:00:00:aa');
    expect(stat).toMatchObject({ port: 'nsrec7p1', flags: ['static', 'master'] });
    const self = entries.filter((e) => e.flags.includes('self'));
    expect(self).toHaveLength(11);
    expect(self.every((e) => e.master === undefined && e.flags[0] === 'permanent' && !e.flags.includes('local'))).toBe(true);
  });

  test('vlan, vxlan dst, extern_learn and upper-case MACs', () => {
    const [e, v] = parseFdbJson(
      JSON.stringify([
        { mac: '0A:00:00:00:00:01', ifname: 'p1', vlan: 10, flags: ['extern_learn', 'offload'], master: 'br0', state: '' },
        { mac: '00:00:00:00:00:00', ifname: 'vx0', dst: '10.42.0.2', flags: ['self'], state: 'permanent' },
      ]),
    );
    expect(e).toEqual({ mac: '0a:00:00:00:00:01', port: 'p1', vlan: 10, flags: ['learned', 'extern_learn', 'offload', 'master'], master: 'br0' });
    expect(v).toMatchObject({ port: 'vx0', dst: '10.42.0.2', flags: ['permanent', 'self'] });
  });

  test('garbage is a clear error', () => {
    expect(parseFdbJson('')).toEqual([]);
    expect(parseFdbJson('[]')).toEqual([]);
    expect(() => parseFdbJson('Cannot find bridge device "x"')).toThrow(FdbParseError);
    expect(() => parseFdbJson('{"mac":"x"}')).toThrow(/JSON array/);
    expect(() => parseFdbJson('[1]')).toThrow(/entry 0 is not an object/);
    expect(() => parseFdbJson('[{"mac":"zz","ifname":"a"}]')).toThrow(/no valid "mac"/);
    expect(() => parseFdbJson('[{"mac":"00:00:00:00:00:01"}]')).toThrow(/no "ifname"/);
    const text = fixture('bridge-fdb.json');
    for (let n = 0; n < text.length; n += 5) {
      try {
        parseFdbJson(text.slice(0, n));
      } catch (err) {
        expect(err).toBeInstanceOf(FdbParseError);
      }
    }
  });

  test('group MACs', () => {
    expect(isGroupMac('33:33:00:00:00:01')).toBe(true);
    expect(isGroupMac('01:00:5e:00:00:01')).toBe(true);
    expect(isGroupMac('ff:ff:ff:ff:ff:ff')).toBe(true);
    expect(isGroupMac('02:00:00:00:00:01')).toBe(false);
  });
});

const e = (mac: string, port: string, extra: Partial<FdbEntry> = {}): FdbEntry => ({ mac, port, flags: ['learned', 'master'], master: 'br0', ...extra });

describe('FdbWatch', () => {
  test('first read is the baseline; then new, expired and moved', () => {
    const w = new FdbWatch();
    const a = e('02:00:00:00:00:01', 'p1');
    const b = e('02:00:00:00:00:02', 'p2');
    expect(w.update([a, b])).toMatchObject({ added: [], expired: [], moved: [] });
    const c = e('02:00:00:00:00:03', 'p3');
    const aMoved = e('02:00:00:00:00:01', 'p3');
    const d = w.update([aMoved, c]);
    expect(d.added).toEqual([c]);
    expect(d.expired).toEqual([b]);
    expect(d.moved).toEqual([{ entry: aMoved, fromPort: 'p1' }]);
    expect(w.update([aMoved, c])).toMatchObject({ added: [], expired: [], moved: [] });
  });
  test('the same MAC in two VLANs is two entries; self entries never move', () => {
    expect(fdbKey(e('02:00:00:00:00:01', 'p1', { vlan: 1 }))).not.toBe(fdbKey(e('02:00:00:00:00:01', 'p1', { vlan: 2 })));
    const w = new FdbWatch();
    const s1 = { mac: '33:33:00:00:00:01', port: 'p1', flags: ['permanent', 'self'] };
    const s2 = { mac: '33:33:00:00:00:01', port: 'p2', flags: ['permanent', 'self'] };
    w.update([s1, s2]);
    expect(w.update([s1, s2]).moved).toEqual([]);
  });
});

describe('MAC resolution through a topology', () => {
  const iface = (netns: string, name: string, mac: string, extra: Partial<IfInfo> = {}): IfInfo => ({
    netns, ifindex: 1, name, kind: 'veth', state: 'UP', up: true, mac, mtu: 1500, addrs: [], ...extra,
  });
  const br = iface('node', 'br0', '0a:00:00:00:00:01', { kind: 'bridge', ifindex: 2 });
  const topo: Topology = {
    namespaces: [
      { id: 'node', name: 'node', label: 'node', inode: 1 },
      { id: 'pod-a', name: 'pod-a', label: 'pod-a', inode: 2 },
      { id: 'pod-b', name: 'pod-b', label: 'pod-b', inode: 3 },
    ],
    interfaces: [
      br,
      iface('node', 'pa', '0a:00:00:00:00:01', { ifindex: 3, master: 'br0', peer: { netns: 'pod-a', ifname: 'eth0', ifindex: 9 } }),
      iface('node', 'pb', '0a:00:00:00:00:02', { ifindex: 4, master: 'br0', peer: { netns: 'pod-b', ifname: 'eth0', ifindex: 9 } }),
      iface('pod-a', 'eth0', '02:aa:00:00:00:01', {
        ifindex: 9,
        addrs: [{ family: 'inet', local: '10.244.1.5', prefixlen: 24 }, { family: 'inet6', local: 'fe80::aa', prefixlen: 64 }],
      }),
      iface('pod-b', 'eth0', '02:bb:00:00:00:01', { ifindex: 9, addrs: [{ family: 'inet6', local: 'fe80::bb', prefixlen: 64 }] }),
    ],
    routes: [],
    // pod-b routes for a VM/container behind it whose MAC only its neighbour table knows.
    neighbours: [{ netns: 'pod-b', ip: '10.244.2.77', mac: '02:cc:00:00:00:01', dev: 'eth0', state: ['REACHABLE'] }],
  };

  test('pod MAC → peer namespace and its IPs (link-local left out when there is more)', () => {
    const [a] = resolveFdb(topo, br, [e('02:aa:00:00:00:01', 'pa')]);
    expect(a.resolved).toEqual({ netns: 'pod-a', label: 'pod-a', ifname: 'eth0', ips: ['10.244.1.5'], via: 'owner' });
    const [b] = resolveFdb(topo, br, [e('02:bb:00:00:00:01', 'pb')]);
    expect(b.resolved?.ips).toEqual(['fe80::bb']);
  });
  test("the bridge's own MAC → the bridge, also when it is a port's MAC too; a port's other MAC → the port", () => {
    const [l, p] = resolveFdb(topo, br, [
      e('0a:00:00:00:00:01', 'pa', { flags: ['local', 'permanent', 'master'] }),
      e('0a:00:00:00:00:02', 'pb', { flags: ['local', 'permanent', 'master'] }),
    ]);
    expect(l.resolved).toMatchObject({ netns: 'node', ifname: 'br0' });
    expect(p.resolved).toMatchObject({ netns: 'node', ifname: 'pb' });
  });
  test('a MAC behind a pod → neighbour table', () => {
    const [n] = resolveFdb(topo, br, [e('02:cc:00:00:00:01', 'pb')]);
    expect(n.resolved).toEqual({ netns: 'pod-b', label: 'pod-b', ifname: 'eth0', ips: ['10.244.2.77'], via: 'neighbour' });
  });
  test('unknown and multicast MACs stay unresolved', () => {
    const out = resolveFdb(topo, br, [e('02:dd:00:00:00:01', 'pb'), e('33:33:00:00:00:01', 'pa', { flags: ['permanent', 'self'] })]);
    expect(out.map((x) => x.resolved)).toEqual([undefined, undefined]);
  });

  test('rendered table: marks, flags, where, expired rows', () => {
    const a = e('02:aa:00:00:00:01', 'pa', { usedSec: 3, updatedSec: 200 });
    resolveFdb(topo, br, [a]);
    const gone = e('02:ee:00:00:00:01', 'pb');
    const self = { mac: '33:33:00:00:00:01', port: 'pa', flags: ['permanent', 'self'] };
    const lines = renderFdb({ bridge: br, netnsLabel: 'node', ports: ['pa', 'pb'] }, [a, self], {
      diff: { added: [a], expired: [gone], moved: [], entries: [a] },
    });
    expect(lines[0]).toBe('bridge br0 in node: 2 ports (pa pb), 1 entries');
    expect(lines[2]).toMatch(/^\+ 02:aa:00:00:00:01\s+pa\s+-\s+learned\s+3s\s+3m\s+pod-a eth0 10\.244\.1\.5$/);
    expect(lines[3]).toMatch(/^- 02:ee:00:00:00:01\s+pb\s+-\s+learned\s+-\s+-\s+\(expired\)$/);
    expect(lines).toHaveLength(4);
    expect(visibleEntries([a, self], true)).toHaveLength(2);
  });
});

test('BRIDGE@NETNS', () => {
  expect(parseBridgeRef('br0')).toEqual({ bridge: 'br0' });
  expect(parseBridgeRef('br0@node1')).toEqual({ bridge: 'br0', netns: 'node1' });
  expect(parseBridgeRef('cni0@pid:42')).toEqual({ bridge: 'cni0', netns: 'pid:42' });
});

test('watch marks stay visible for three refreshes', () => {
  const recent = new RecentChanges(3);
  const a = e('02:00:00:00:00:01', 'p1');
  const b = e('02:00:00:00:00:02', 'p2');
  const b2 = e('02:00:00:00:00:02', 'p3');
  const frame = (entries: FdbEntry[], diff: Partial<FdbDiff>): FdbDiff => recent.update({ added: [], expired: [], moved: [], entries, ...diff });
  expect(frame([a], { added: [a] }).added).toEqual([a]);
  expect(frame([a, b], { added: [b] }).added).toEqual([a, b]);
  expect(frame([a, b2], { moved: [{ entry: b2, fromPort: 'p2' }] })).toMatchObject({ added: [a], moved: [{ entry: b2, fromPort: 'p2' }] });
  expect(frame([b2], { expired: [a] })).toMatchObject({ added: [], moved: [{ entry: b2, fromPort: 'p2' }], expired: [a] });
  expect(frame([b2], {})).toMatchObject({ added: [], moved: [{ entry: b2, fromPort: 'p2' }], expired: [a] });
  expect(frame([b2], {})).toMatchObject({ added: [], moved: [], expired: [a] });
  expect(frame([b2], {})).toMatchObject({ added: [], moved: [], expired: [] });
});
