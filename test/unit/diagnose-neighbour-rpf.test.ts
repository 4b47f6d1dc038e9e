/**
 * Neighbour and rp_filter findings (pure): a neighbour entry whose MAC no holder has, a MAC that belongs to
 * someone else, two MACs answering ARP; strict rp_filter with the route back on another interface, loose
 * rp_filter without a route back, rp_filter off.
 */
import { neighbourIssue } from '../../src/diagnose/neighbour';
import { rpFilterIssue } from '../../src/diagnose/rpfilter';
import type { Hop } from '../../src/diagnose/types';
import type { IfInfo, Topology } from '../../src/topology/discover';

function iface(netns: string, name: string, mac: string, addr?: string, peer?: string): IfInfo {
  return { netns, ifindex: 1, name, kind: 'veth', state: 'UP', up: true, mac, mtu: 1500, addrs: addr ? [{ family: 'inet', local: addr, prefixlen: 24 }] : [], ...(peer ? { peer: { netns: peer, ifname: 'x', ifindex: 2 } } : {}) };
}

const hop = (index: number, netns: string, name: string, role: Hop['role']): Hop => ({ index, netns, netnsLabel: netns, iface: name, kind: 'veth', role, up: true, state: 'UP', mtu: 1500 });

const TOPO: Topology = {
  namespaces: [],
  interfaces: [iface('a', 'eth0', '02:00:00:00:00:0a', '10.0.0.2', 'n'), iface('n', 'veth-a', '02:00:00:00:00:01', undefined, 'a'), iface('n', 'veth-b', '02:00:00:00:00:02', undefined, 'b'), iface('b', 'eth0', '02:00:00:00:00:0b', '10.0.0.3', 'n'), iface('n', 'cni1', '02:00:00:00:00:c1', '10.0.1.1')],
  routes: [],
  neighbours: [],
};
const HOPS = [hop(1, 'a', 'eth0', 'source'), hop(2, 'n', 'veth-a', 'bridge port'), hop(3, 'n', 'veth-b', 'bridge port'), hop(4, 'b', 'eth0', 'destination')];
const NH = [{ netns: 'a', ip: '10.0.0.3', dev: 'eth0' }];
const base = { hops: HOPS, nextHops: NH, requestMacs: HOPS.map(() => ({})), arpAnswers: new Map<string, string[]>(), labels: new Map<string, string>() };

describe('neighbourIssue', () => {
  test('an entry pointing at a MAC nobody has; one pointing at another interface; a right one', () => {
    const wrong = neighbourIssue({ ...base, topo: { ...TOPO, neighbours: [{ netns: 'a', ip: '10.0.0.3', dev: 'eth0', mac: '02:00:5e:00:be:ef', state: ['PERMANENT'] }] } });
    expect(wrong).toMatchObject({ cause: 'wrong-neighbour', hop: 1, direction: 'request' });
    expect(wrong?.summary).toBe("a's neighbour entry for 10.0.0.3 points at MAC 02:00:5e:00:be:ef (nobody has it); 10.0.0.3 is 02:00:00:00:00:0b on b eth0");
    const other = neighbourIssue({ ...base, topo: { ...TOPO, neighbours: [{ netns: 'a', ip: '10.0.0.3', dev: 'eth0', mac: '02:00:00:00:00:01', state: ['STALE'] }] } });
    expect(other?.summary).toMatch(/points at MAC 02:00:00:00:00:01 \(that is n veth-a\)/);
    expect(neighbourIssue({ ...base, topo: { ...TOPO, neighbours: [{ netns: 'a', ip: '10.0.0.3', dev: 'eth0', mac: '02:00:00:00:00:0b', state: ['REACHABLE'] }] } })).toBeUndefined();
    expect(neighbourIssue({ ...base, topo: { ...TOPO, neighbours: [{ netns: 'a', ip: '10.0.0.3', dev: 'eth0', state: ['FAILED'] }] } })).toBeUndefined();
  });

  test('two MACs answering ARP for the next hop: duplicate-ip', () => {
    const dup = neighbourIssue({ ...base, topo: TOPO, arpAnswers: new Map([['10.0.0.3', ['02:00:00:00:00:0b', '02:00:00:00:00:99']]]) });
    expect(dup).toMatchObject({ cause: 'duplicate-ip', hop: 1 });
    expect(dup?.evidence[0]).toBe('ARP replies for 10.0.0.3: 02:00:00:00:00:0b (b eth0), 02:00:00:00:00:99 (not in this network)');
  });
});

describe('rpFilterIssue', () => {
  const R = [hop(1, 'a', 'eth0', 'source'), hop(2, 'n', 'cni0', 'router in'), hop(3, 'n', 'cni1', 'router out'), hop(4, 'c', 'eth0', 'destination')];
  const routes = [{ netns: 'n', dst: '10.0.0.2/32', dev: 'cni1' }];
  const labels = new Map<string, string>();
  test('strict: the route back leaves by another interface', () => {
    const i = rpFilterIssue({ topo: { ...TOPO, routes }, hops: R, settings: [{ netns: 'n', iface: 'cni0', all: 1, dev: 0 }], src: '10.0.0.2', walks: [], labels });
    expect(i).toMatchObject({ cause: 'rp-filter', hop: 2 });
    expect(i?.summary).toBe('reverse-path filter in n: net.ipv4.conf.all.rp_filter = 1 drops packets from 10.0.0.2 arriving on cni0 (the route back leaves by cni1)');
  });
  test('loose without a route back; off; strict with the route back on the same interface', () => {
    expect(rpFilterIssue({ topo: TOPO, hops: R, settings: [{ netns: 'n', iface: 'cni0', all: 0, dev: 2 }], src: '10.0.0.2', walks: [], labels })?.summary).toMatch(/net\.ipv4\.conf\.cni0\.rp_filter = 2 .*there is no route back/);
    expect(rpFilterIssue({ topo: { ...TOPO, routes }, hops: R, settings: [{ netns: 'n', iface: 'cni0', all: 0, dev: 0 }], src: '10.0.0.2', walks: [], labels })).toBeUndefined();
    expect(rpFilterIssue({ topo: { ...TOPO, routes: [{ netns: 'n', dst: '10.0.0.0/24', dev: 'cni0' }] }, hops: R, settings: [{ netns: 'n', iface: 'cni0', all: 1, dev: 1 }], src: '10.0.0.2', walks: [], labels })).toBeUndefined();
  });
});
