/**
 * Path tracing over synthetic topologies (the shape discovery returns): hops and roles for bridged and routed
 * paths, and the first configuration problem for each cause diagnose names; endpoint resolution.
 */
import { EndpointError, resolveEndpoint } from '../../src/diagnose/endpoints';
import { connectedNamespaces, lookupRoute, tracePath, type TraceOptions } from '../../src/diagnose/path';
import type { Endpoint } from '../../src/diagnose/types';
import type { IfInfo, Topology } from '../../src/topology/discover';

/** A small builder for discovery-shaped topologies. */
class Lab {
  readonly topo: Topology = { namespaces: [{ id: '', label: 'host', inode: 1 }], interfaces: [], routes: [], neighbours: [] };
  private next = 10;

  ns(name: string): this {
    this.topo.namespaces.push({ id: name, name, label: name, inode: this.next++ });
    return this;
  }

  iface(netns: string, name: string, kind: string, extra: Partial<IfInfo> = {}): IfInfo {
    const i: IfInfo = { netns, ifindex: this.next++, name, kind, state: 'UP', up: true, mac: '02:00:00:00:00:01', mtu: 1500, addrs: [], ...extra };
    this.topo.interfaces.push(i);
    return i;
  }

  addr(i: IfInfo, cidr: string): this {
    const [local, len] = cidr.split('/');
    i.addrs.push({ family: 'inet', local, prefixlen: Number(len) });
    const net = local.split('.').slice(0, 3).join('.') + '.0/' + len;
    if (i.up && i.state !== 'DOWN' && i.state !== 'LOWERLAYERDOWN') this.route(i.netns, net, undefined, i.name);
    return this;
  }

  route(netns: string, dst: string, gateway: string | undefined, dev: string): this {
    this.topo.routes.push({ netns, dst, ...(gateway ? { gateway } : {}), dev });
    return this;
  }

  veth(a: [string, string], b: [string, string], extraA: Partial<IfInfo> = {}, extraB: Partial<IfInfo> = {}): [IfInfo, IfInfo] {
    const x = this.iface(a[0], a[1], 'veth', extraA);
    const y = this.iface(b[0], b[1], 'veth', extraB);
    x.peer = { netns: y.netns, ifname: y.name, ifindex: y.ifindex };
    y.peer = { netns: x.netns, ifname: x.name, ifindex: x.ifindex };
    return [x, y];
  }

  /** A pod "name" with eth0 = ip/24 whose host end "veth-<name>" is on `bridge` (or none) in "node". */
  pod(name: string, ip: string, bridge: string | undefined, gw?: string, opts: { podUp?: boolean; hostUp?: boolean; mtu?: number } = {}): IfInfo {
    this.ns(name);
    const [eth0, host] = this.veth(
      [name, 'eth0'],
      ['node', `veth-${name}`],
      { up: opts.podUp ?? true, state: (opts.podUp ?? true) && (opts.hostUp ?? true) ? 'UP' : opts.podUp === false ? 'DOWN' : 'LOWERLAYERDOWN', mtu: opts.mtu ?? 1500 },
      { up: opts.hostUp ?? true, state: (opts.podUp ?? true) && (opts.hostUp ?? true) ? 'UP' : opts.hostUp === false ? 'DOWN' : 'LOWERLAYERDOWN', mtu: opts.mtu ?? 1500, ...(bridge ? { master: bridge } : {}) },
    );
    this.addr(eth0, `${ip}/24`);
    if (gw) this.route(name, 'default', gw, 'eth0');
    return host;
  }
}

const ep = (topo: Topology, ref: string): Endpoint => resolveEndpoint(topo, ref, { allowUnknownIp: true, what: 'TO', near: 'pod-a' });
const icmp = (size = 56): TraceOptions => ({ packetBytes: size + 28, df: true, direction: 'request' });

/** node with cni0 10.244.1.1/24 (pod-a .2, pod-b .3) and cni1 10.244.2.1/24 (pod-c .2). */
function twoBridges(mod: (lab: Lab) => void = () => undefined): Topology {
  const lab = new Lab().ns('node');
  lab.addr(lab.iface('node', 'cni0', 'bridge'), '10.244.1.1/24');
  lab.addr(lab.iface('node', 'cni1', 'bridge'), '10.244.2.1/24');
  lab.pod('pod-a', '10.244.1.2', 'cni0', '10.244.1.1');
  lab.pod('pod-b', '10.244.1.3', 'cni0', '10.244.1.1');
  lab.pod('pod-c', '10.244.2.2', 'cni1', '10.244.2.1');
  mod(lab);
  return lab.topo;
}

function trace(topo: Topology, from: string, to: string, opts = icmp()) {
  return tracePath(topo, resolveEndpoint(topo, from, { allowUnknownIp: false, what: 'FROM' }), ep(topo, to), opts);
}

const roles = (t: ReturnType<typeof trace>) => t.hops.map((h) => `${h.netns}/${h.iface}:${h.role}`);

describe('tracePath: healthy paths', () => {
  test('bridged: eth0 → veth → bridge → veth → eth0, no issue', () => {
    const t = trace(twoBridges(), 'pod-a', 'pod-b');
    expect(roles(t)).toEqual(['pod-a/eth0:source', 'node/veth-pod-a:bridge port', 'node/cni0:bridge', 'node/veth-pod-b:bridge port', 'pod-b/eth0:destination']);
    expect(t.issue).toBeUndefined();
    expect(t.nextHops).toEqual([{ netns: 'pod-a', ip: '10.244.1.3', dev: 'eth0' }]);
    expect(t.routers).toEqual([]);
  });

  test('routed: the node is a router between its bridges', () => {
    const t = trace(twoBridges(), 'pod-a', 'pod-c');
    expect(roles(t)).toEqual([
      'pod-a/eth0:source',
      'node/veth-pod-a:bridge port',
      'node/cni0:router in',
      'node/cni1:router out',
      'node/veth-pod-c:bridge port',
      'pod-c/eth0:destination',
    ]);
    expect(t.routers).toEqual(['node']);
    expect(t.nextHops.map((n) => `${n.netns} ${n.ip}`)).toEqual(['pod-a 10.244.1.1', 'node 10.244.2.2']);
    expect(t.issue).toBeUndefined();
  });

  test('a direct veth pair between two namespaces', () => {
    const lab = new Lab().ns('a').ns('b');
    const [x, y] = lab.veth(['a', 'eth0'], ['b', 'eth0']);
    lab.addr(x, '10.42.0.1/24').addr(y, '10.42.0.2/24');
    const t = tracePath(lab.topo, resolveEndpoint(lab.topo, 'a', { allowUnknownIp: false, what: 'FROM' }), resolveEndpoint(lab.topo, 'b', { allowUnknownIp: false, what: 'TO' }), icmp());
    expect(roles(t)).toEqual(['a/eth0:source', 'b/eth0:destination']);
    expect(t.issue).toBeUndefined();
  });
});

describe('tracePath: causes', () => {
  test('no route in FROM', () => {
    const topo = twoBridges((lab) => (lab.topo.routes = lab.topo.routes.filter((r) => !(r.netns === 'pod-a' && r.dst === 'default'))));
    const t = trace(topo, 'pod-a', 'pod-c');
    expect(t.issue).toMatchObject({ cause: 'no-route', hop: 1, direction: 'request' });
    expect(t.issue?.evidence[0]).toBe('routes in pod-a: 10.244.1.0/24 dev eth0');
  });

  test('no route in the router', () => {
    const topo = twoBridges((lab) => (lab.topo.routes = lab.topo.routes.filter((r) => !(r.netns === 'node' && r.dst === '10.244.2.0/24'))));
    const t = trace(topo, 'pod-a', 'pod-c');
    expect(t.issue).toMatchObject({ cause: 'no-route', hop: 3 });
    expect(t.issue?.summary).toMatch(/node has no route to 10\.244\.2\.2/);
  });

  test('link down, pod side of the source: its routes are gone, the link is the cause', () => {
    const lab = new Lab().ns('node');
    lab.addr(lab.iface('node', 'cni0', 'bridge'), '10.244.1.1/24');
    lab.pod('pod-a', '10.244.1.2', 'cni0', undefined, { podUp: false });
    lab.pod('pod-b', '10.244.1.3', 'cni0');
    const t = trace(lab.topo, 'pod-a', 'pod-b');
    expect(t.issue).toMatchObject({ cause: 'link-down', hop: 1 });
    expect(t.issue?.summary).toBe('link down (pod side): pod-a eth0; its routes are gone while it is down');
  });

  test('link down, host side: the bridge port, named with its bridge', () => {
    const lab = new Lab().ns('node');
    lab.addr(lab.iface('node', 'cni0', 'bridge'), '10.244.1.1/24');
    lab.pod('pod-a', '10.244.1.2', 'cni0');
    lab.pod('pod-b', '10.244.1.3', 'cni0', undefined, { hostUp: false });
    const t = trace(lab.topo, 'pod-a', 'pod-b');
    expect(t.issue).toMatchObject({ cause: 'link-down', hop: 4, summary: 'link down (host side, port of bridge cni0): node veth-pod-b' });
    expect(t.issue?.evidence[0]).toMatch(/administratively down \(fix: ip -n node link set veth-pod-b up\)/);
  });

  test('link down: the destination pod', () => {
    const lab = new Lab().ns('node');
    lab.addr(lab.iface('node', 'cni0', 'bridge'), '10.244.1.1/24');
    lab.pod('pod-a', '10.244.1.2', 'cni0');
    lab.pod('pod-b', '10.244.1.3', 'cni0', undefined, { podUp: false });
    // A down interface keeps its address but loses its routes: re-add the address without the route.
    const t = trace(lab.topo, 'pod-a', 'pod-b');
    expect(t.issue).toMatchObject({ cause: 'link-down', hop: 5, summary: 'link down (pod side): pod-b eth0' });
  });

  test('veth not attached to any bridge', () => {
    const lab = new Lab().ns('node');
    lab.addr(lab.iface('node', 'cni0', 'bridge'), '10.244.1.1/24');
    lab.pod('pod-a', '10.244.1.2', 'cni0');
    lab.pod('pod-b', '10.244.1.3', undefined);
    const t = trace(lab.topo, 'pod-a', 'pod-b');
    expect(t.issue).toMatchObject({ cause: 'not-attached', hop: 4 });
    expect(roles(t)).toEqual(['pod-a/eth0:source', 'node/veth-pod-a:bridge port', 'node/cni0:bridge', 'node/veth-pod-b:veth peer', 'pod-b/eth0:destination']);
    expect(t.issue?.evidence).toContain('node veth-pod-b has no master (fix: ip -n node link set veth-pod-b master cni0)');
  });

  test('the source veth on the wrong bridge: blamed by subnet, not the destination', () => {
    const lab = new Lab().ns('node');
    lab.addr(lab.iface('node', 'cni0', 'bridge'), '10.244.1.1/24');
    lab.addr(lab.iface('node', 'cni9', 'bridge'), '10.244.9.1/24');
    lab.pod('pod-a', '10.244.1.2', 'cni9');
    lab.pod('pod-b', '10.244.1.3', 'cni0');
    const t = trace(lab.topo, 'pod-a', 'pod-b');
    expect(t.issue).toMatchObject({ cause: 'wrong-bridge', hop: 2 });
    expect(t.issue?.summary).toMatch(/veth veth-pod-a in node .* is a port of bridge cni9, but it belongs on bridge cni0/);
  });

  test('subnet mismatch on one bridge: the odd address is named', () => {
    const lab = new Lab().ns('node');
    lab.addr(lab.iface('node', 'cni0', 'bridge'), '10.244.1.1/24');
    lab.pod('pod-a', '10.244.1.2', 'cni0', '10.244.1.1');
    lab.pod('pod-b', '10.244.2.3', 'cni0');
    const t = trace(lab.topo, 'pod-a', 'pod-b');
    expect(t.issue).toMatchObject({ cause: 'subnet-mismatch' });
    expect(t.issue?.summary).toBe('pod-b eth0 has 10.244.2.3/24, which does not belong to the subnet of the segment it is on');
    const back = trace(lab.topo, 'pod-b', 'pod-a');
    expect(back.issue).toMatchObject({ cause: 'subnet-mismatch', hop: 1 });
  });

  test('two subnets on one bridge with a gateway address in each are a routed design, not a mismatch', () => {
    const lab = new Lab().ns('node');
    const br = lab.iface('node', 'cni0', 'bridge');
    lab.addr(br, '10.244.1.1/24').addr(br, '10.244.2.1/24');
    lab.pod('pod-a', '10.244.1.2', 'cni0', '10.244.1.1');
    lab.pod('pod-b', '10.244.2.3', 'cni0', '10.244.2.1');
    expect(trace(lab.topo, 'pod-a', 'pod-b').issue).toBeUndefined();
  });

  test('nobody holds the address; a gateway nobody holds', () => {
    const t = trace(twoBridges(), 'pod-a', '10.244.1.99');
    expect(t.issue).toMatchObject({ cause: 'arp-unanswered', hop: 1, summary: 'nobody holds 10.244.1.99: ARP "who-has 10.244.1.99" from pod-a eth0 gets no answer' });
    const topo = twoBridges((lab) => lab.topo.routes.forEach((r) => r.netns === 'pod-a' && r.dst === 'default' && (r.gateway = '10.244.1.254')));
    expect(trace(topo, 'pod-a', 'pod-c').issue?.summary).toMatch(/^gateway 10\.244\.1\.254 \(route default via 10\.244\.1\.254 in pod-a\) does not exist/);
  });

  test('MTU: a smaller bridge port drops the frame; a router needs to fragment; the sender itself', () => {
    const lab = new Lab().ns('node');
    lab.addr(lab.iface('node', 'cni0', 'bridge'), '10.244.1.1/24');
    lab.addr(lab.iface('node', 'cni1', 'bridge', { mtu: 1000 }), '10.244.2.1/24');
    lab.pod('pod-a', '10.244.1.2', 'cni0', '10.244.1.1');
    lab.pod('pod-b', '10.244.1.3', 'cni0', '10.244.1.1', { mtu: 1000 });
    lab.pod('pod-c', '10.244.2.2', 'cni1', '10.244.2.1', { mtu: 1000 });
    expect(trace(lab.topo, 'pod-a', 'pod-b', icmp(1200)).issue).toMatchObject({ cause: 'mtu', hop: 4 });
    expect(trace(lab.topo, 'pod-a', 'pod-b', icmp(900)).issue).toBeUndefined();
    const routed = trace(lab.topo, 'pod-a', 'pod-c', icmp(1200)).issue;
    expect(routed).toMatchObject({ cause: 'mtu', hop: 4 });
    expect(routed?.evidence[1]).toMatch(/answers ICMP "fragmentation needed"/);
    expect(trace(lab.topo, 'pod-b', 'pod-a', icmp(1200)).issue).toMatchObject({ cause: 'mtu', hop: 1 });
    // Without DF the sender fragments to its own MTU; the 1000-byte port still drops 1500-byte fragments.
    expect(trace(lab.topo, 'pod-a', 'pod-b', { packetBytes: 1228, df: false, direction: 'request' }).issue).toMatchObject({ cause: 'mtu', hop: 4 });
  });
});

describe('endpoints and networks', () => {
  test('names, pod names, IPs; an IP reused by an unconnected lab is not confused with ours', () => {
    const topo = twoBridges();
    // Another lab with the same addresses, not connected to ours.
    topo.namespaces.push({ id: 'lab2-pod-b', name: 'lab2-pod-b', label: 'lab2-pod-b', inode: 99 });
    topo.interfaces.push({ netns: 'lab2-pod-b', ifindex: 2, name: 'eth0', kind: 'veth', state: 'UP', up: true, mac: '', mtu: 1500, addrs: [{ family: 'inet', local: '10.244.1.3', prefixlen: 24 }] });
    expect(connectedNamespaces(topo, 'pod-a')).toEqual(new Set(['pod-a', 'node', 'pod-b', 'pod-c']));
    expect(ep(topo, '10.244.1.3')).toMatchObject({ netns: 'pod-b', iface: 'eth0', prefixlen: 24 });
    expect(ep(topo, 'pod-c')).toMatchObject({ netns: 'pod-c', ip: '10.244.2.2' });
    expect(ep(topo, '10.244.7.7')).toMatchObject({ netns: null, ip: '10.244.7.7' });
    expect(() => resolveEndpoint(topo, '10.244.1.3', { allowUnknownIp: false, what: 'FROM' })).toThrow(/several namespaces hold that address/);
    expect(() => resolveEndpoint(topo, 'nope', { allowUnknownIp: false, what: 'FROM' })).toThrow(EndpointError);
    expect(() => resolveEndpoint(topo, 'fd00::1', { allowUnknownIp: true, what: 'TO' })).toThrow(/IPv6 is not supported/);
    expect(resolveEndpoint(topo, 'node', { allowUnknownIp: true, what: 'TO' })).toMatchObject({ netns: 'node', iface: 'cni0', ip: '10.244.1.1' });
    topo.namespaces.push({ id: 'empty', name: 'empty', label: 'empty', inode: 98 });
    expect(() => resolveEndpoint(topo, 'empty', { allowUnknownIp: true, what: 'TO' })).toThrow(/namespace empty has no IPv4 address/);
  });

  test('a pod name matches the topology prefix, ambiguity is an error', () => {
    const lab = new Lab().ns('k8s-pod-a');
    lab.addr(lab.iface('k8s-pod-a', 'eth0', 'veth'), '10.244.1.2/24');
    expect(resolveEndpoint(lab.topo, 'pod-a', { allowUnknownIp: false, what: 'FROM' })).toMatchObject({ netns: 'k8s-pod-a', label: 'k8s-pod-a' });
    lab.ns('lab2-pod-a');
    lab.addr(lab.iface('lab2-pod-a', 'eth0', 'veth'), '10.244.1.2/24');
    expect(() => resolveEndpoint(lab.topo, 'pod-a', { allowUnknownIp: false, what: 'FROM' })).toThrow(/matches several namespaces \(k8s-pod-a, lab2-pod-a\)/);
  });

  test('lookupRoute: longest prefix wins over the default route', () => {
    const topo = twoBridges((lab) => lab.route('pod-a', '10.244.2.0/24', '10.244.1.9', 'eth0'));
    expect(lookupRoute(topo, 'pod-a', '10.244.2.2')).toMatchObject({ dst: '10.244.2.0/24', gateway: '10.244.1.9' });
    expect(lookupRoute(topo, 'pod-a', '8.8.8.8')).toMatchObject({ dst: 'default' });
    expect(lookupRoute(topo, 'pod-a', 'garbage')).toBeUndefined();
  });
});
