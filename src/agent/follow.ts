/**
 * Which namespaces and interfaces the agent follows: `--netns` patterns (names, "pid:N", "host", with `*`
 * wildcards) select namespaces; every non-loopback interface that is up and not a bridge port is captured (a port's
 * frames are seen on its bridge), unless `--capture-iface` says otherwise. Pure functions over a Topology.
 */
import type { IfInfo, NetnsInfo, Topology } from '../topology/discover';

/** "host" for the agent's own namespace, else the id (a name or "pid:N"): the netns label of every metric. */
export function netnsLabel(ns: NetnsInfo | string): string {
  const id = typeof ns === 'string' ? ns : ns.id;
  return id === '' ? 'host' : id;
}

/** Compiles `--netns` patterns ("node1", "nst8*", "host", "pid:*") into a predicate on namespace labels. */
export function netnsMatcher(patterns: readonly string[] | undefined): (label: string) => boolean {
  if (patterns === undefined || patterns.length === 0) return () => true;
  const res = patterns.map((p) => new RegExp(`^${p.split('*').map(escapeRe).join('.*')}$`));
  return (label) => res.some((re) => re.test(label));
}

function escapeRe(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/** A `--netns` pattern is a namespace name, "host" or "pid:N", possibly with `*`: nothing else gets near a regex. */
export function isValidNetnsPattern(p: string): boolean {
  return /^[A-Za-z0-9_.:*-]{1,64}$/.test(p);
}

export interface FollowPolicy {
  netns: (label: string) => boolean;
  /** Interfaces to capture, by name; default: every one but `lo` that is not a bridge port. */
  iface?: RegExp;
}

/** The namespaces of `topo` the policy follows. */
export function followedNamespaces(topo: Topology, policy: FollowPolicy): NetnsInfo[] {
  return topo.namespaces.filter((n) => policy.netns(netnsLabel(n)));
}

/** The interfaces to capture on in the followed namespaces. */
export function captureInterfaces(topo: Topology, followed: readonly NetnsInfo[], policy: FollowPolicy): IfInfo[] {
  const ids = new Set(followed.map((n) => n.id));
  return topo.interfaces.filter((i) => {
    // An interface that is down cannot be captured (libpcap refuses): it is picked up once it is set up.
    if (!ids.has(i.netns) || !i.up) return false;
    if (policy.iface !== undefined) return policy.iface.test(i.name);
    return i.kind !== 'loopback' && i.name !== 'lo' && i.master === undefined;
  });
}
