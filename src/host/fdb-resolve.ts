/**
 * Resolves FDB MACs through discovery (the one topology code path): port → veth peer → namespace (pod) → the
 * addresses that MAC holds there, or a neighbour table entry. Pure: works on a Topology snapshot.
 */
import { vethPeer, type IfInfo, type Topology } from '../topology/discover';
import type { FdbEntry, FdbResolution } from './fdb';

/** Whether a MAC is multicast/broadcast (group bit set): such entries never belong to one host. */
export function isGroupMac(mac: string): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 1) === 1;
}

/** Addresses worth showing: link-local IPv6 only when an interface has nothing else. */
function shownIps(iface: IfInfo): string[] {
  const all = iface.addrs.map((a) => a.local);
  const useful = all.filter((ip) => !/^fe80:/i.test(ip));
  return useful.length > 0 ? useful : all;
}

export function labelOf(topo: Topology, netns: string): string {
  return topo.namespaces.find((n) => n.id === netns)?.label ?? (netns === '' ? 'host' : netns);
}

function owner(topo: Topology, iface: IfInfo): FdbResolution {
  return { netns: iface.netns, label: labelOf(topo, iface.netns), ifname: iface.name, ips: shownIps(iface), via: 'owner' };
}

/** IPs that namespace `netns` has a neighbour entry for with `mac`. */
function neighbourIps(topo: Topology, netns: string, mac: string): string[] {
  return topo.neighbours.filter((n) => n.netns === netns && n.mac?.toLowerCase() === mac && !n.state.includes('FAILED')).map((n) => n.ip);
}

/**
 * Where `entry.mac` lives, seen from `bridge`. Order: an interface in the bridge's namespace that owns the MAC
 * (local entries); the veth peer of the port; another interface in the peer's namespace; a neighbour entry in
 * the peer's or the bridge's namespace; finally any interface on the machine with that MAC (taps, vxlan).
 */
export function resolveFdbEntry(topo: Topology, bridge: IfInfo, entry: FdbEntry): FdbResolution | undefined {
  const mac = entry.mac;
  if (isGroupMac(mac)) return undefined;
  const sameMac = (i: IfInfo): boolean => i.mac.toLowerCase() === mac;
  // A bridge without a MAC of its own takes its lowest port's: that entry sits on the port, but frames to it
  // are delivered to the bridge (its namespace's stack), so the bridge wins; a port's other MAC is the port.
  const inBridgeNs = topo.interfaces.filter((i) => i.netns === bridge.netns && sameMac(i));
  const local =
    inBridgeNs.find((i) => i.name === bridge.name) ?? inBridgeNs.find((i) => i.name === entry.port) ?? inBridgeNs.find((i) => i.master === bridge.name);
  if (local) return owner(topo, local);
  const port = topo.interfaces.find((i) => i.netns === bridge.netns && i.name === entry.port);
  const peer = port ? vethPeer(topo, port) : undefined;
  if (peer) {
    if (sameMac(peer)) return owner(topo, peer);
    const inPeerNs = topo.interfaces.find((i) => i.netns === peer.netns && sameMac(i));
    if (inPeerNs) return owner(topo, inPeerNs);
    const ips = neighbourIps(topo, peer.netns, mac);
    if (ips.length > 0) return { netns: peer.netns, label: labelOf(topo, peer.netns), ifname: peer.name, ips, via: 'neighbour' };
  }
  const bridgeIps = neighbourIps(topo, bridge.netns, mac);
  if (bridgeIps.length > 0) return { netns: bridge.netns, label: labelOf(topo, bridge.netns), ifname: entry.port, ips: bridgeIps, via: 'neighbour' };
  const anywhere = topo.interfaces.find(sameMac);
  return anywhere ? owner(topo, anywhere) : undefined;
}

/** Adds `resolved` to each entry that can be resolved (in place; returns the entries). */
export function resolveFdb(topo: Topology, bridge: IfInfo, entries: FdbEntry[]): FdbEntry[] {
  for (const e of entries) {
    const r = resolveFdbEntry(topo, bridge, e);
    if (r) e.resolved = r;
  }
  return entries;
}

/** "br0 (in node1), cni0 (in host)": the bridges a user could have meant. */
export function listBridges(topo: Topology): string {
  const names = topo.interfaces
    .filter((i) => i.kind === 'bridge')
    .map((i) => `${i.name}@${i.netns === '' ? 'host' : i.netns}`)
    .sort();
  return names.length > 0 ? names.join(', ') : 'none';
}
