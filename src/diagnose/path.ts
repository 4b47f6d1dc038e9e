/**
 * Path finding from the configuration alone (pure over a discovered Topology): from FROM's interface, follow
 * the routing table to a next hop, walk the layer-2 segment (veth → peer → bridge → ports → peers) to whoever
 * holds that address, and repeat in that namespace when it routes, until the destination. Along the way every
 * interface is checked (link state, bridge membership, MTU), and the first problem found is reported with
 * the configuration that shows it. The probes then confirm (or contradict) the finding.
 */
import { bridgePorts, vethPeer, type IfInfo, type RouteInfo, type Topology } from '../topology/discover';
import { canonicalIp, contains, parseCidr, parseIp, type Cidr } from '../topology/cidr';
import type { Endpoint, Hop, HopRole, PathIssue, PathTrace } from './types';

const MAX_ROUTERS = 8;

export interface TraceOptions {
  /** IPv4 packet size of a probe (headers included), for the MTU check. */
  packetBytes: number;
  /** Don't-fragment set: a smaller MTU anywhere drops the packet (routers answer "fragmentation needed"). */
  df: boolean;
  direction: 'request' | 'reply';
}

function nsLabel(topo: Topology, netns: string): string {
  if (netns === '') return 'host';
  return topo.namespaces.find((n) => n.id === netns)?.label ?? netns;
}

function key(i: IfInfo): string {
  return `${i.netns}|${i.ifindex}`;
}

function inet(i: IfInfo): Cidr[] {
  return i.addrs.filter((a) => a.family === 'inet').map((a) => parseCidr(`${a.local}/${a.prefixlen}`)).filter((c): c is Cidr => c !== undefined);
}

function inetText(i: IfInfo): string {
  const a = i.addrs.filter((x) => x.family === 'inet').map((x) => `${x.local}/${x.prefixlen}`);
  return a.length ? a.join(' ') : 'no IPv4 address';
}

function holds(i: IfInfo, ip: string): boolean {
  const want = canonicalIp(ip);
  return i.addrs.some((a) => a.family === 'inet' && canonicalIp(a.local) === want);
}

/** Operationally down: no carrier (its veth peer is down, a bridge without live ports) or administratively down. */
function isDown(i: IfInfo): boolean {
  return !i.up || i.state === 'DOWN' || i.state === 'LOWERLAYERDOWN';
}

/**
 * Namespaces connected to `netns` by veth pairs (directly or through others): one "network". Addresses are
 * only unique within a network: separate labs on one machine reuse the same subnets.
 */
export function connectedNamespaces(topo: Topology, netns: string): Set<string> {
  const seen = new Set<string>([netns]);
  const queue = [netns];
  while (queue.length > 0) {
    const ns = queue.shift() as string;
    for (const i of topo.interfaces) {
      if (i.netns !== ns || !i.peer || seen.has(i.peer.netns)) continue;
      seen.add(i.peer.netns);
      queue.push(i.peer.netns);
    }
  }
  return seen;
}

/** Longest-prefix match over a namespace's main-table IPv4 routes. */
export function lookupRoute(topo: Topology, netns: string, ip: string): RouteInfo | undefined {
  const dst = parseIp(ip);
  if (!dst || dst.family !== 4) return undefined;
  let best: RouteInfo | undefined;
  let bestLen = -1;
  for (const r of topo.routes) {
    if (r.netns !== netns) continue;
    const net = r.dst === 'default' ? (r.gateway?.includes(':') ? undefined : parseCidr('0.0.0.0/0')) : parseCidr(r.dst);
    if (!net || net.family !== 4 || !contains(net, dst)) continue;
    if (net.prefixlen > bestLen) {
      best = r;
      bestLen = net.prefixlen;
    }
  }
  return best;
}

function routesText(topo: Topology, netns: string): string {
  const rs = topo.routes.filter((r) => r.netns === netns && !r.dst.includes(':') && !(r.gateway ?? '').includes(':'));
  if (rs.length === 0) return 'no IPv4 routes at all';
  return rs.map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${r.dev ? ` dev ${r.dev}` : ''}`).join('; ');
}

interface SegmentNode {
  iface: IfInfo;
  parent: SegmentNode | null;
}

/**
 * Breadth-first walk of the layer-2 segment an interface is on: a veth leads to its peer, a bridge port to its
 * bridge, a bridge to its ports. Down links are walked too (the checks on the chosen chain report them).
 */
function walkSegment(topo: Topology, start: IfInfo): SegmentNode[] {
  const out: SegmentNode[] = [];
  const seen = new Set<string>([key(start)]);
  const queue: SegmentNode[] = [{ iface: start, parent: null }];
  while (queue.length > 0) {
    const node = queue.shift() as SegmentNode;
    out.push(node);
    const i = node.iface;
    const next: IfInfo[] = [];
    if (i.kind === 'veth') {
      const p = vethPeer(topo, i);
      if (p) next.push(p);
    }
    if (i.master) {
      const br = topo.interfaces.find((x) => x.netns === i.netns && x.name === i.master && x.kind === 'bridge');
      if (br) next.push(br);
    }
    if (i.kind === 'bridge') next.push(...bridgePorts(topo, i));
    for (const n of next) {
      if (seen.has(key(n))) continue;
      seen.add(key(n));
      queue.push({ iface: n, parent: node });
    }
  }
  return out;
}

function chainTo(node: SegmentNode): IfInfo[] {
  const chain: IfInfo[] = [];
  for (let n: SegmentNode | null = node; n; n = n.parent) chain.unshift(n.iface);
  return chain;
}

function bridgeLabel(topo: Topology, br: IfInfo): string {
  const a = inet(br).length ? ` (${inetText(br)})` : '';
  return `bridge ${br.name}${a} in ${nsLabel(topo, br.netns)}`;
}

/** Builds the hop list and the first problem along a path; see the module comment. */
class PathBuilder {
  readonly hops: Hop[] = [];
  readonly routers: string[] = [];
  readonly nextHops: Array<{ netns: string; ip: string; dev: string }> = [];
  issue?: PathIssue;

  constructor(
    private readonly topo: Topology,
    readonly opts: TraceOptions,
  ) {}

  label(netns: string): string {
    return nsLabel(this.topo, netns);
  }

  where(i: IfInfo): string {
    return `${this.label(i.netns)} ${i.name}`;
  }

  add(i: IfInfo, role: HopRole): number {
    const last = this.hops[this.hops.length - 1];
    if (last && last.netns === i.netns && last.iface === i.name) {
      // The same interface twice in a row (a router's ingress is its egress): keep one hop, the later role.
      last.role = role;
      return last.index;
    }
    const hop: Hop = { index: this.hops.length + 1, netns: i.netns, netnsLabel: this.label(i.netns), iface: i.name, kind: i.kind, role, up: i.up, state: i.state, mtu: i.mtu };
    if (i.master) hop.master = i.master;
    this.hops.push(hop);
    return hop.index;
  }

  fail(cause: PathIssue['cause'], hop: number | null, summary: string, evidence: string[]): void {
    if (!this.issue) this.issue = { cause, hop, direction: this.opts.direction, summary, evidence };
  }
}

/** The command that fixes a link, for evidence lines. */
function ipCmd(netns: string, args: string): string {
  return netns === '' ? `ip ${args}` : `ip -n ${netns} ${args}`;
}

/** Role of an interface in the middle of a layer-2 chain. */
function midRole(i: IfInfo): HopRole {
  if (i.kind === 'bridge') return 'bridge';
  if (i.master) return 'bridge port';
  return 'veth peer';
}

/** Why a link is down, in words, pointing at the end that was switched off. */
function describeDown(topo: Topology, i: IfInfo, endpointNs: Set<string>): { side: string; text: string } {
  const side = i.kind === 'bridge' ? 'bridge' : endpointNs.has(i.netns) ? 'pod side' : i.master ? `host side, port of bridge ${i.master}` : 'host side';
  if (!i.up) return { side, text: `${nsLabel(topo, i.netns)} ${i.name} is administratively down (fix: ${ipCmd(i.netns, `link set ${i.name} up`)})` };
  const peer = i.kind === 'veth' ? vethPeer(topo, i) : undefined;
  if (peer && !peer.up) return { side, text: `${nsLabel(topo, i.netns)} ${i.name} has no carrier: its veth peer ${nsLabel(topo, peer.netns)} ${peer.name} is down` };
  if (i.kind === 'bridge') return { side, text: `bridge ${i.name} in ${nsLabel(topo, i.netns)} is ${i.state}: none of its ports is up` };
  return { side, text: `${nsLabel(topo, i.netns)} ${i.name} is ${i.state}` };
}

/**
 * Explains why `nextHop` is not on the segment of `egress`, when someone does hold it elsewhere: a veth whose
 * host end is on no bridge, or on another bridge than the one the address lives on; else the address is
 * configured on a segment where it does not belong.
 */
function explainDetached(b: PathBuilder, topo: Topology, egress: IfInfo, ours: SegmentNode[], holder: IfInfo, nextHop: string, egressHop: number): void {
  const theirs = walkSegment(topo, holder);
  const bridgesIn = (seg: SegmentNode[]) => seg.map((n) => n.iface).filter((i) => i.kind === 'bridge');
  const ourBridges = bridgesIn(ours);
  const theirBridges = bridgesIn(theirs);
  const evidence = [
    `${b.where(egress)} (${inetText(egress)}) reaches: ${ours.map((x) => b.where(x.iface)).join(', ')}`,
    `${nextHop} is held by ${b.where(holder)}, whose segment is: ${theirs.map((x) => b.where(x.iface)).join(', ')}`,
  ];
  interface Candidate {
    node: SegmentNode;
    side: 'ours' | 'theirs';
    bridge: IfInfo;
  }
  // The bridge a veth's host end belongs on: the one in its namespace whose subnet holds the pod's address.
  const expectedBridge = (i: IfInfo): IfInfo | undefined => {
    const peer = vethPeer(topo, i);
    if (!peer) return undefined;
    const podIps = inet(peer).map((c) => ({ ...c, prefixlen: 32 }));
    return topo.interfaces.find((br) => br.kind === 'bridge' && br.netns === i.netns && inet(br).some((net) => podIps.some((ip) => contains(net, ip))));
  };
  const sides: Array<[SegmentNode[], 'ours' | 'theirs', IfInfo[]]> = [
    [theirs, 'theirs', ourBridges],
    [ours, 'ours', theirBridges],
  ];
  let found: Candidate | undefined;
  // First by subnet (unambiguous when bridges carry the gateway address), then by namespace alone.
  for (const [seg, side] of sides) {
    if (found) break;
    for (const n of seg) {
      if (n.iface.kind !== 'veth') continue;
      const want = expectedBridge(n.iface);
      if (want && n.iface.master !== want.name) {
        found = { node: n, side, bridge: want };
        break;
      }
    }
  }
  for (const [seg, side, otherBridges] of sides) {
    if (found) break;
    for (const n of seg) {
      if (n.iface.kind !== 'veth') continue;
      const target = otherBridges.find((br) => br.netns === n.iface.netns && br.name !== n.iface.master);
      if (target) {
        found = { node: n, side, bridge: target };
        break;
      }
    }
  }
  if (found) {
    const i = found.node.iface;
    let hopIdx: number;
    if (found.side === 'ours') {
      // Our own segment: the hops up to the misplaced veth.
      const chain = chainTo(found.node);
      hopIdx = egressHop;
      for (let k = 1; k < chain.length; k++) hopIdx = b.add(chain[k], midRole(chain[k]));
    } else {
      // The far side: our hops up to the bridge it should be on, then the veth and the address's holder.
      const brNode = ours.find((n) => n.iface === found?.bridge);
      if (brNode) {
        const chain = chainTo(brNode);
        for (let k = 1; k < chain.length; k++) b.add(chain[k], midRole(chain[k]));
      }
      hopIdx = b.add(i, 'veth peer');
      const peer = vethPeer(topo, i);
      if (peer && peer === holder) b.add(peer, 'destination');
    }
    const peer = vethPeer(topo, i);
    const owner = peer ? b.where(peer) : 'its other end';
    const target = found.bridge;
    if (!i.master) {
      b.fail(
        'not-attached',
        hopIdx,
        `veth ${i.name} in ${b.label(i.netns)} (the other end of ${owner}) is not attached to any bridge; it belongs on ${bridgeLabel(topo, target)}`,
        [...evidence, `${b.where(i)} has no master (fix: ${ipCmd(i.netns, `link set ${i.name} master ${target.name}`)})`],
      );
    } else {
      b.fail(
        'wrong-bridge',
        hopIdx,
        `veth ${i.name} in ${b.label(i.netns)} (the other end of ${owner}) is a port of bridge ${i.master}, but it belongs on ${bridgeLabel(topo, target)}`,
        [...evidence, `${b.where(i)} master ${i.master} (fix: ${ipCmd(i.netns, `link set ${i.name} master ${target.name}`)})`],
      );
    }
    return;
  }
  const ourBr = ourBridges[0];
  const theirBr = theirBridges[0];
  b.fail(
    'subnet-mismatch',
    egressHop,
    `${nextHop} is on-link for ${b.where(egress)} (${inetText(egress)}), but ${b.where(holder)} holding it is on another segment${theirBr ? ` (${bridgeLabel(topo, theirBr)})` : ''}`,
    [
      `${b.where(egress)} reaches: ${ours.map((x) => b.where(x.iface)).join(', ')}${ourBr ? ` (${bridgeLabel(topo, ourBr)})` : ''}`,
      `${b.where(holder)}: ${inetText(holder)}`,
    ],
  );
}

/**
 * Same segment, different subnets: both ends can see each other's frames but neither routes to the other
 * on-link, so packets go to a gateway that has no route back into the segment, or nowhere.
 */
function checkSubnets(b: PathBuilder, topo: Topology, from: Endpoint, to: Endpoint, src: IfInfo): { issue: PathIssue; odd: IfInfo } | undefined {
  if (to.netns === null || to.iface === null || from.prefixlen === null || to.prefixlen === null) return undefined;
  const dst = topo.interfaces.find((i) => i.netns === to.netns && i.name === to.iface);
  if (!dst) return undefined;
  const seg = walkSegment(topo, src);
  if (!seg.some((n) => n.iface === dst)) return undefined;
  const fromNet = parseCidr(`${from.ip}/${from.prefixlen}`);
  const toNet = parseCidr(`${to.ip}/${to.prefixlen}`);
  const toIp = parseIp(to.ip);
  const fromIp = parseIp(from.ip);
  if (!fromNet || !toNet || !toIp || !fromIp) return undefined;
  if (contains(fromNet, toIp) && contains(toNet, fromIp)) return undefined;
  // Which end is the odd one out: the one whose subnet no other station on the segment shares.
  const stations = seg.map((n) => n.iface).filter((i) => i !== src && i !== dst);
  const sharedBy = (ip: Cidr) => stations.filter((s) => inet(s).some((c) => contains(c, ip)));
  const toShared = sharedBy(toIp);
  const fromShared = sharedBy(fromIp);
  // A router on the segment with an address in each subnet makes this a routed design, not a mistake.
  if (toShared.length > 0 && fromShared.length > 0) return undefined;
  const odd = toShared.length === 0 ? { ep: to, i: dst } : { ep: from, i: src };
  const others = stations.filter((i) => inet(i).length > 0);
  const issue: PathIssue = {
    cause: 'subnet-mismatch',
    hop: null,
    direction: b.opts.direction,
    summary: `${odd.ep.label} ${odd.i.name} has ${odd.ep.ip}/${odd.ep.prefixlen ?? '?'}, which does not belong to the subnet of the segment it is on`,
    evidence: [
      `${b.where(src)} and ${b.where(dst)} are on the same layer-2 segment (${seg.filter((n) => n.iface.kind === 'bridge').map((n) => bridgeLabel(topo, n.iface)).join(', ') || 'direct veth'})`,
      `${from.label} ${src.name}: ${from.ip}/${from.prefixlen}; ${to.label} ${dst.name}: ${to.ip}/${to.prefixlen}`,
      ...others.map((i) => `${b.where(i)}: ${inetText(i)}`),
    ],
  };
  return { issue, odd: odd.i };
}

/** Checks every interface of a layer-2 chain (after the egress) for link state and MTU. */
function checkChain(b: PathBuilder, topo: Topology, chain: IfInfo[], idx: number[], endpointNs: Set<string>, routed: boolean): void {
  for (let k = 0; k < chain.length; k++) {
    const i = chain[k];
    if (!i.up) {
      const d = describeDown(topo, i, endpointNs);
      b.fail('link-down', idx[k], `link down (${d.side}): ${b.where(i)}`, [d.text]);
      return;
    }
  }
  for (let k = 0; k < chain.length; k++) {
    const i = chain[k];
    if (isDown(i)) {
      const d = describeDown(topo, i, endpointNs);
      b.fail('link-down', idx[k], `link down (${d.side}): ${b.where(i)}`, [d.text]);
      return;
    }
  }
  const { packetBytes: size, df } = b.opts;
  const egress = chain[0];
  if (df && size > egress.mtu) {
    const who = routed ? 'the router cannot forward it without fragmenting (DF set) and answers ICMP "fragmentation needed"' : 'the sender refuses it ("message too long")';
    b.fail('mtu', idx[0], `MTU too small: ${b.where(egress)} has MTU ${egress.mtu}, the probe is ${size} bytes with DF set`, [
      `MTUs along the segment: ${chain.map((c) => `${b.where(c)} ${c.mtu}`).join(', ')}`,
      `a ${size}-byte IPv4 packet does not fit in ${egress.mtu}: ${who}`,
    ]);
    return;
  }
  // Without DF the sender fragments to its own MTU; what leaves must still fit every link after it.
  const frame = df ? size : Math.min(size, egress.mtu);
  for (let k = 1; k < chain.length; k++) {
    const i = chain[k];
    // A bridge device's MTU does not apply to frames it forwards between ports or hands to its own stack.
    if (i.kind === 'bridge') continue;
    if (frame > i.mtu) {
      b.fail('mtu', idx[k], `MTU too small: ${b.where(i)} has MTU ${i.mtu}, smaller than the ${frame}-byte packet${df ? ' (DF set)' : ''}`, [
        `MTUs along the segment: ${chain.map((c) => `${b.where(c)} ${c.mtu}`).join(', ')}`,
        `the ${frame}-byte frame is dropped where it would enter ${b.where(i)} (no ICMP error: this is layer 2)`,
      ]);
      return;
    }
  }
}

/** Down interfaces of a namespace that have IPv4 addresses (their routes vanish while they are down). */
function downWithAddresses(topo: Topology, netns: string): IfInfo[] {
  return topo.interfaces.filter((i) => i.netns === netns && i.kind !== 'loopback' && inet(i).length > 0 && isDown(i));
}

/**
 * Traces the path from `from` to `to.ip` (see the module comment). `to` may be unknown (netns null): the walk
 * then ends where nobody answers for the address.
 */
export function tracePath(topo: Topology, from: Endpoint, to: Endpoint, opts: TraceOptions): PathTrace {
  const b = new PathBuilder(topo, opts);
  const endpointNs = new Set<string>([from.netns ?? '', ...(to.netns !== null ? [to.netns] : [])]);
  const src = topo.interfaces.find((i) => i.netns === from.netns && i.name === from.iface);
  if (from.netns === null || !src) {
    b.fail('unknown', null, `${from.ref}: interface not found`, []);
    return { hops: b.hops, routers: b.routers, nextHops: b.nextHops, issue: b.issue };
  }
  if (holds(src, to.ip)) {
    b.add(src, 'source');
    return { hops: b.hops, routers: b.routers, nextHops: b.nextHops };
  }
  const mismatch = opts.direction === 'request' ? checkSubnets(b, topo, from, to, src) : undefined;

  let ns = from.netns;
  let ingress: IfInfo | null = null;
  const visited = new Set<string>();
  for (let step = 0; step <= MAX_ROUTERS; step++) {
    if (visited.has(ns)) {
      b.fail('no-route', b.hops.length || null, `routing loop: ${b.label(ns)} is reached twice on the way to ${to.ip}`, [`namespaces crossed: ${[...visited].map((n) => b.label(n)).join(' → ')}`]);
      break;
    }
    visited.add(ns);
    const route = lookupRoute(topo, ns, to.ip);
    if (!route || !route.dev) {
      const down = downWithAddresses(topo, ns);
      // In FROM the probe never leaves: its own interface is the hop where traffic stops.
      const atHop = ingress ? b.hops.length : down.length > 0 ? null : b.add(src, 'source');
      if (down.length > 0) {
        const i = down[0];
        const idx = ns === from.netns ? b.add(i, 'source') : atHop;
        const d = describeDown(topo, i, endpointNs);
        b.fail('link-down', idx, `link down (${d.side}): ${b.where(i)}; its routes are gone while it is down`, [d.text, `routes in ${b.label(ns)}: ${routesText(topo, ns)}`]);
      } else {
        const first = ns === from.netns;
        b.fail(
          'no-route',
          atHop,
          first ? `no route from ${b.label(ns)} to ${to.ip}: no matching route and no default gateway` : `${b.label(ns)} has no route to ${to.ip}: it receives the packet but cannot forward it`,
          [
            `routes in ${b.label(ns)}: ${routesText(topo, ns)}`,
            !first
              ? 'the router answers ICMP "network unreachable" (or drops the packet)'
              : opts.direction === 'reply'
                ? `the requests arrive, but ${b.label(ns)} cannot send the replies back ("Network is unreachable" inside it)`
                : 'the probe fails before anything is sent ("Network is unreachable")',
          ],
        );
      }
      break;
    }
    const egress = topo.interfaces.find((i) => i.netns === ns && i.name === route.dev);
    if (!egress) {
      b.fail('no-route', b.hops.length || null, `${b.label(ns)} routes ${to.ip} via ${route.dev}, which does not exist`, [`routes in ${b.label(ns)}: ${routesText(topo, ns)}`]);
      break;
    }
    const egressIdx = b.add(egress, ns === from.netns ? 'source' : 'router out');
    const nextHop = route.gateway ?? to.ip;
    b.nextHops.push({ netns: ns, ip: nextHop, dev: egress.name });
    const seg = walkSegment(topo, egress);
    const holderNode = seg.find((n) => n.iface !== egress && holds(n.iface, nextHop)) ?? (holds(egress, nextHop) ? seg[0] : undefined);
    if (!holderNode) {
      // Check the egress link first: a down link explains everything after it.
      if (isDown(egress)) {
        const d = describeDown(topo, egress, endpointNs);
        b.fail('link-down', egressIdx, `link down (${d.side}): ${b.where(egress)}`, [d.text]);
        break;
      }
      const network = connectedNamespaces(topo, from.netns);
      const holder =
        (to.netns !== null && canonicalIp(nextHop) === canonicalIp(to.ip) ? topo.interfaces.find((i) => i.netns === to.netns && i.name === to.iface) : undefined) ??
        topo.interfaces.find((i) => i.kind !== 'loopback' && network.has(i.netns) && holds(i, nextHop));
      if (!holder) {
        const gw = route.gateway !== undefined;
        const elsewhere = topo.interfaces.filter((i) => i.kind !== 'loopback' && holds(i, nextHop)).map((i) => b.where(i));
        b.fail(
          'arp-unanswered',
          egressIdx,
          gw
            ? `gateway ${nextHop} (route ${route.dst} via ${nextHop} in ${b.label(ns)}) does not exist: nobody holds it, ARP gets no answer`
            : `nobody holds ${nextHop}: ARP "who-has ${nextHop}" from ${b.where(egress)} gets no answer`,
          [
            `no interface in the namespaces connected to ${b.label(from.netns)} has ${nextHop}${elsewhere.length ? ` (unconnected namespaces that do: ${elsewhere.slice(0, 3).join(', ')}${elsewhere.length > 3 ? ', …' : ''})` : ''}`,
            `${b.where(egress)} reaches: ${seg.map((x) => b.where(x.iface)).join(', ')}`,
          ],
        );
      } else {
        explainDetached(b, topo, egress, seg, holder, nextHop, egressIdx);
      }
      break;
    }
    const chain = chainTo(holderNode);
    const holder = holderNode.iface;
    const final = holds(holder, to.ip) && holder.netns === to.netns;
    const idx = [egressIdx];
    for (let k = 1; k < chain.length; k++) {
      const i = chain[k];
      const last = k === chain.length - 1;
      idx.push(b.add(i, last ? (final || holds(holder, to.ip) ? 'destination' : 'router in') : midRole(i)));
    }
    checkChain(b, topo, chain, idx, endpointNs, ns !== from.netns);
    if (holds(holder, to.ip)) break;
    b.routers.push(holder.netns);
    ns = holder.netns;
    ingress = holder;
  }
  if (mismatch) {
    // The walk ran into the consequence (a gateway without a route back, ARP unanswered); the cause wins.
    const at = b.hops.find((h) => h.netns === mismatch.odd.netns && h.iface === mismatch.odd.name);
    b.issue = { ...mismatch.issue, hop: at ? at.index : mismatch.odd === src ? 1 : b.hops.length || null };
  }
  return { hops: b.hops, routers: b.routers, nextHops: b.nextHops, issue: b.issue };
}
