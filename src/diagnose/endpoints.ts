/**
 * Turns what the user typed for FROM or TO into an Endpoint: a namespace (name, id, "host", pid), a Kubernetes
 * pod ("web-0", "default/web-0", "pod:default/web-0": discovery names pod namespaces), a topology's pod (the
 * declared name a topology prefixed, e.g. "pod-a" for "k8s-node-pod-a"), or an IPv4 address (resolved to the
 * namespace holding it). Pure over a discovered Topology.
 */
import { isIP } from 'net';
import { findNetns, NetnsRefError, type IfInfo, type NetnsInfo, type Topology } from '../topology/discover';
import { canonicalIp } from '../topology/cidr';
import { connectedNamespaces } from './path';
import type { Endpoint } from './types';

/** A FROM/TO that cannot be resolved: a usage error (exit 2), the message says what exists. */
export class EndpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EndpointError';
  }
}

function labelOf(ns: NetnsInfo): string {
  return ns.id === '' ? 'host' : ns.label;
}

/** IPv4 addresses on real interfaces (not loopback) of a namespace, interface by interface. */
function ipv4Interfaces(topo: Topology, netns: string): IfInfo[] {
  return topo.interfaces.filter((i) => i.netns === netns && i.kind !== 'loopback' && i.addrs.some((a) => a.family === 'inet'));
}

/**
 * The interface a namespace talks through: the one its default route leaves by, else the only one with an
 * IPv4 address, else the first (by ifindex).
 */
export function primaryInterface(topo: Topology, netns: string): IfInfo | undefined {
  const candidates = ipv4Interfaces(topo, netns).sort((a, b) => a.ifindex - b.ifindex);
  const def = topo.routes.find((r) => r.netns === netns && r.dst === 'default' && r.dev !== undefined);
  return candidates.find((i) => i.name === def?.dev) ?? candidates[0];
}

function endpointOnInterface(ref: string, ns: NetnsInfo, iface: IfInfo, ip?: string): Endpoint {
  const addr = ip !== undefined ? iface.addrs.find((a) => canonicalIp(a.local) === canonicalIp(ip)) : iface.addrs.find((a) => a.family === 'inet');
  return {
    ref,
    netns: ns.id,
    label: labelOf(ns),
    iface: iface.name,
    ip: addr?.local ?? ip ?? '',
    prefixlen: addr?.prefixlen ?? null,
  };
}

/** Namespaces whose name is `<prefix>-<ref>` (a topology's pod), or whose process comm is ref. */
function byPodName(topo: Topology, ref: string): NetnsInfo[] {
  return topo.namespaces.filter((n) => (n.name !== undefined && n.name.endsWith(`-${ref}`)) || (n.pid !== undefined && n.label === `pid ${n.pid} (${ref})`));
}

/**
 * Resolves FROM/TO. An IP that nobody holds is allowed for TO (`allowUnknownIp`): diagnose then shows that
 * ARP for it gets no answer. Throws EndpointError for anything else it cannot resolve.
 */
export function resolveEndpoint(topo: Topology, ref: string, opts: { allowUnknownIp: boolean; what: string; near?: string }): Endpoint {
  const fam = isIP(ref);
  if (fam === 6) throw new EndpointError(`${opts.what} ${ref}: IPv6 is not supported by diagnose yet; give an IPv4 address or a namespace`);
  if (fam === 4) {
    // Separate labs reuse subnets: an address counts where it is reachable from `near` (FROM's network).
    const network = opts.near !== undefined ? connectedNamespaces(topo, opts.near) : undefined;
    const hits = topo.interfaces.filter((i) => i.kind !== 'loopback' && (network === undefined || network.has(i.netns)) && i.addrs.some((a) => canonicalIp(a.local) === canonicalIp(ref)));
    const nsIds = [...new Set(hits.map((h) => h.netns))];
    if (nsIds.length > 1) {
      const names = nsIds.map((id) => topo.namespaces.find((n) => n.id === id)).filter((n): n is NetnsInfo => n !== undefined).map(labelOf);
      throw new EndpointError(`${opts.what} ${ref}: several namespaces hold that address (${names.slice(0, 6).join(', ')}${names.length > 6 ? ', …' : ''}); name the namespace instead`);
    }
    const hit = hits[0];
    const ns = hit ? topo.namespaces.find((n) => n.id === hit.netns) : undefined;
    if (hit && ns) return endpointOnInterface(ref, ns, hit, ref);
    if (!opts.allowUnknownIp) throw new EndpointError(`${opts.what} ${ref}: no namespace on this machine has that address; name a namespace or an address one of them holds`);
    return { ref, netns: null, label: '?', iface: null, ip: canonicalIp(ref), prefixlen: null };
  }
  let ns: NetnsInfo | undefined;
  try {
    ns = findNetns(topo, ref);
  } catch (e) {
    // Several pods by that name in different Kubernetes namespaces.
    if (e instanceof NetnsRefError) throw new EndpointError(`${opts.what} ${e.message}`);
    throw e;
  }
  if (!ns) {
    const pods = byPodName(topo, ref);
    if (pods.length > 1) {
      throw new EndpointError(`${opts.what} "${ref}" matches several namespaces (${pods.map(labelOf).join(', ')}); give the full namespace name`);
    }
    ns = pods[0];
  }
  if (!ns) {
    const names = topo.namespaces.filter((n) => n.id !== '').map(labelOf);
    const list = names.length > 12 ? `${names.slice(0, 12).join(', ')}, …` : names.join(', ');
    throw new EndpointError(`${opts.what} "${ref}": no such namespace, pod or address (namespaces: host${list ? `, ${list}` : ''})`);
  }
  const iface = primaryInterface(topo, ns.id);
  if (!iface) throw new EndpointError(`${opts.what} "${ref}": namespace ${labelOf(ns)} has no IPv4 address on any interface (besides lo)`);
  return endpointOnInterface(ref, ns, iface);
}
