/**
 * Discovery: every network namespace on the machine (named ones in /run/netns, unnamed ones held only by a
 * process, and netscope's own), deduplicated by namespace inode, with their interfaces, addresses, routes and
 * neighbours, and veth peers resolved across namespaces. Namespaces are dumped in parallel, one `ip -batch`
 * process each, so the whole machine can be polled every couple of seconds.
 */
import { promises as fsp } from 'fs';
import { dumpNamespace, isMainTableRoute, linkKind, type IpLinkJson, type NamespaceDump } from '../host/iproute';
import { isValidNetnsName } from '../host/run';
import { parsePodRef, type PodRef } from '../k8s/podRef';
import { podLabel, sharedPodResolver, type PodInfo, type PodTable } from '../k8s/pods';
import { canonicalIp } from './cidr';

export interface NetnsInfo {
  /** "name" for named namespaces, "pid:1234" for unnamed ones, "" for netscope's own. */
  id: string;
  name?: string;
  pid?: number;
  /** "namespace/pod" for a pod's namespace, else the name, "pid 1234 (comm)", or "host" for netscope's own. */
  label: string;
  inode: number;
  /** The Kubernetes pod whose network namespace this is (container runtime or kubelet files). */
  pod?: PodInfo;
}

export interface IfAddr {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
}

export interface IfStats {
  rxPackets: number;
  txPackets: number;
  rxBytes: number;
  txBytes: number;
  rxDropped: number;
  txDropped: number;
}

export interface IfInfo {
  /** NetnsInfo.id; "" is netscope's own namespace. */
  netns: string;
  ifindex: number;
  name: string;
  /** veth bridge tun tap vxlan loopback ether … */
  kind: string;
  /** Operational state: UP DOWN UNKNOWN LOWERLAYERDOWN … */
  state: string;
  /** Administratively up (the UP flag). */
  up: boolean;
  mac: string;
  mtu: number;
  /** Bridge this interface is a port of (same namespace). */
  master?: string;
  addrs: IfAddr[];
  /** The other end of a veth, resolved across namespaces. */
  peer?: { netns: string; ifname: string; ifindex: number };
  alias?: string;
  stats?: IfStats;
}

export interface RouteInfo {
  netns: string;
  /** "default" or a CIDR (host routes get /32 or /128). */
  dst: string;
  gateway?: string;
  dev?: string;
  src?: string;
}

export interface NeighInfo {
  netns: string;
  ip: string;
  mac?: string;
  dev: string;
  state: string[];
}

export interface Topology {
  namespaces: NetnsInfo[];
  interfaces: IfInfo[];
  routes: RouteInfo[];
  neighbours: NeighInfo[];
}

export interface DiscoverOptions {
  /** Limit discovery to these namespace ids ("" for netscope's own, a name, or "pid:1234"). */
  netns?: string[];
}

export interface ListNamespacesOptions {
  /** Pods to name namespaces by (default: the shared resolver asks the runtime); null: no pod names. */
  pods?: PodTable | null;
}

const NETNS_DIR = '/run/netns';

function inodeOfLink(target: string): number | undefined {
  const m = /^net:\[(\d+)\]$/.exec(target);
  return m ? Number(m[1]) : undefined;
}

/** netscope's own namespace inode. */
async function selfInode(): Promise<number> {
  const ino = inodeOfLink(await fsp.readlink('/proc/self/ns/net'));
  if (ino === undefined) throw new Error('cannot read /proc/self/ns/net: is /proc mounted?');
  return ino;
}

async function namedNamespaces(): Promise<{ name: string; inode: number }[]> {
  let names: string[];
  try {
    names = await fsp.readdir(NETNS_DIR);
  } catch {
    return [];
  }
  const out = await Promise.all(
    names.filter(isValidNetnsName).map(async (name) => {
      try {
        // A live namespace is a bind mount of an nsfs inode; a leftover file (namespace gone) sits on tmpfs
        // with a small inode, and ip -n fails on it: it is dropped when its dump fails.
        const st = await fsp.stat(`${NETNS_DIR}/${name}`);
        return { name, inode: st.ino };
      } catch {
        return undefined;
      }
    }),
  );
  return out.filter((x): x is { name: string; inode: number } => x !== undefined).sort((a, b) => a.name.localeCompare(b.name));
}

/** Namespaces held by processes: inode → lowest pid. */
async function processNamespaces(): Promise<Map<number, number>> {
  const byInode = new Map<number, number>();
  let entries: string[];
  try {
    entries = await fsp.readdir('/proc');
  } catch {
    return byInode;
  }
  const pids = entries.filter((e) => /^\d+$/.test(e)).map(Number).sort((a, b) => a - b);
  const links = await Promise.all(pids.map((pid) => fsp.readlink(`/proc/${pid}/ns/net`).catch(() => '')));
  for (let i = 0; i < pids.length; i++) {
    const ino = inodeOfLink(links[i]);
    if (ino !== undefined && !byInode.has(ino)) byInode.set(ino, pids[i]);
  }
  return byInode;
}

async function commOf(pid: number): Promise<string> {
  try {
    return (await fsp.readFile(`/proc/${pid}/comm`, 'utf8')).trim();
  } catch {
    return '?';
  }
}

/**
 * Every network namespace, deduplicated by inode: netscope's own first, then named, then process-held; a pod's
 * namespace carries its pod and is labelled "namespace/pod".
 */
export async function listNamespaces(opts: ListNamespacesOptions = {}): Promise<NetnsInfo[]> {
  const [self, named, held, pods] = await Promise.all([
    selfInode(),
    namedNamespaces(),
    processNamespaces(),
    opts.pods !== undefined ? Promise.resolve(opts.pods) : sharedPodResolver().resolve(),
  ]);
  const out = listFrom(self, named, held, await commsOf(held, self, named));
  if (pods) {
    for (const ns of out) {
      const pod = pods.byInode.get(ns.inode);
      if (pod && ns.id !== '') {
        ns.pod = pod;
        ns.label = podLabel(pod);
      }
    }
  }
  return out;
}

async function commsOf(held: Map<number, number>, self: number, named: { inode: number }[]): Promise<Map<number, string>> {
  const seen = new Set<number>([self, ...named.map((n) => n.inode)]);
  const pids = [...held.entries()].filter(([ino]) => !seen.has(ino)).map(([, pid]) => pid);
  const comms = await Promise.all(pids.map(commOf));
  return new Map(pids.map((pid, i) => [pid, comms[i]]));
}

function listFrom(self: number, named: { name: string; inode: number }[], held: Map<number, number>, comms: Map<number, string>): NetnsInfo[] {
  const out: NetnsInfo[] = [];
  const seen = new Set<number>();
  const selfName = named.find((n) => n.inode === self)?.name;
  out.push({ id: '', name: selfName, label: selfName ? `${selfName} (netscope's namespace)` : 'host', inode: self });
  seen.add(self);
  for (const n of named) {
    if (seen.has(n.inode)) continue;
    seen.add(n.inode);
    out.push({ id: n.name, name: n.name, label: n.name, inode: n.inode });
  }
  const unnamed = [...held.entries()].filter(([ino]) => !seen.has(ino)).sort((a, b) => a[1] - b[1]);
  for (const [ino, pid] of unnamed) {
    seen.add(ino);
    out.push({ id: `pid:${pid}`, pid, label: `pid ${pid} (${comms.get(pid) ?? '?'})`, inode: ino });
  }
  return out;
}

function toIfInfo(netns: string, l: IpLinkJson): IfInfo {
  const info: IfInfo = {
    netns,
    ifindex: l.ifindex,
    name: l.ifname,
    kind: linkKind(l),
    state: l.operstate,
    up: l.flags.includes('UP'),
    mac: l.address ?? '',
    mtu: l.mtu,
    addrs: (l.addr_info ?? [])
      .filter((a) => a.family === 'inet' || a.family === 'inet6')
      .map((a) => ({ family: a.family as 'inet' | 'inet6', local: a.local, prefixlen: a.prefixlen })),
  };
  if (l.master) info.master = l.master;
  if (l.ifalias) info.alias = l.ifalias;
  if (l.stats64) {
    info.stats = {
      rxPackets: l.stats64.rx.packets,
      txPackets: l.stats64.tx.packets,
      rxBytes: l.stats64.rx.bytes,
      txBytes: l.stats64.tx.bytes,
      rxDropped: l.stats64.rx.dropped,
      txDropped: l.stats64.tx.dropped,
    };
  }
  return info;
}

function normaliseDst(dst: string): string {
  if (dst === 'default' || dst.includes('/')) return dst;
  return dst.includes(':') ? `${dst}/128` : `${dst}/32`;
}

interface Dumped {
  ns: NetnsInfo;
  dump: NamespaceDump;
}

/**
 * Resolves each veth's peer. Same namespace: no link_netnsid, link_index is the peer's ifindex. Another
 * namespace: link_netnsid names it from this namespace's point of view; `netns list-id` maps that id to a
 * name for named namespaces; otherwise (unnamed or netscope's own) the peer is the veth whose ifindex is our
 * link_index and whose link_index is our ifindex — taken only when exactly one namespace has such a veth.
 */
function resolvePeers(dumped: Dumped[], byNs: Map<string, IfInfo[]>): void {
  const vethsByIndex = new Map<number, { netns: string; link: IpLinkJson }[]>();
  for (const d of dumped) {
    for (const l of d.dump.links) {
      if (l.linkinfo?.info_kind !== 'veth') continue;
      const list = vethsByIndex.get(l.ifindex) ?? [];
      list.push({ netns: d.ns.id, link: l });
      vethsByIndex.set(l.ifindex, list);
    }
  }
  const known = new Set(dumped.map((d) => d.ns.id));
  for (const d of dumped) {
    const ifs = byNs.get(d.ns.id) ?? [];
    const nsidName = new Map<number, string>();
    for (const e of d.dump.netnsIds) if (e.name) nsidName.set(e.nsid, e.name);
    for (const l of d.dump.links) {
      if (l.linkinfo?.info_kind !== 'veth' || l.link_index === undefined || l.link_index === 0) continue;
      const me = ifs.find((i) => i.ifindex === l.ifindex);
      if (!me) continue;
      let peerNs: string | undefined;
      if (l.link_netnsid === undefined) {
        peerNs = d.ns.id;
      } else {
        const named = nsidName.get(l.link_netnsid);
        if (named !== undefined && known.has(named)) {
          peerNs = named;
        } else {
          const candidates = (vethsByIndex.get(l.link_index) ?? []).filter(
            (c) => c.netns !== d.ns.id && c.link.link_index === l.ifindex && c.link.link_netnsid !== undefined,
          );
          if (candidates.length === 1) peerNs = candidates[0].netns;
        }
      }
      if (peerNs === undefined) continue;
      const peer = (byNs.get(peerNs) ?? []).find((i) => i.ifindex === l.link_index);
      if (peer) me.peer = { netns: peerNs, ifname: peer.name, ifindex: peer.ifindex };
    }
  }
}

/** Dumps run in parallel, but not all at once: a fork storm on a busy machine is slower than a small pool. */
const DUMP_CONCURRENCY = 8;

async function mapLimit<T, R>(items: T[], limit: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Discovers every namespace (or those in opts.netns) with interfaces, routes, neighbours and veth peers. */
export async function discover(opts: DiscoverOptions = {}): Promise<Topology> {
  let namespaces = await listNamespaces();
  if (opts.netns) {
    const want = new Set(opts.netns);
    namespaces = namespaces.filter((n) => want.has(n.id));
  }
  const results = await mapLimit(namespaces, DUMP_CONCURRENCY, async (ns): Promise<Dumped | undefined> => {
    try {
      return { ns, dump: await dumpNamespace(ns.id) };
    } catch (err) {
      // A namespace can vanish between listing and dumping (its process exited, it was deleted): skip it.
      // Our own namespace cannot vanish, so a failure there is real.
      if (ns.id === '') throw err;
      return undefined;
    }
  });
  const dumped = results.filter((r): r is Dumped => r !== undefined);
  const topo: Topology = { namespaces: dumped.map((d) => d.ns), interfaces: [], routes: [], neighbours: [] };
  const byNs = new Map<string, IfInfo[]>();
  for (const { ns, dump } of dumped) {
    const ifs = dump.links.map((l) => toIfInfo(ns.id, l));
    byNs.set(ns.id, ifs);
    topo.interfaces.push(...ifs);
    for (const r of dump.routes) {
      if (!isMainTableRoute(r)) continue;
      const route: RouteInfo = { netns: ns.id, dst: normaliseDst(r.dst) };
      if (r.gateway) route.gateway = r.gateway;
      if (r.dev) route.dev = r.dev;
      if (r.prefsrc) route.src = r.prefsrc;
      topo.routes.push(route);
    }
    for (const n of dump.neighbours) {
      if (!n.dev) continue;
      const neigh: NeighInfo = { netns: ns.id, ip: n.dst, dev: n.dev, state: n.state ?? [] };
      if (n.lladdr) neigh.mac = n.lladdr;
      topo.neighbours.push(neigh);
    }
  }
  resolvePeers(dumped, byNs);
  attachPodInterfaces(topo);
  return topo;
}

/** A pod's addresses (when the runtime gave none) and the node-side end of its veth, from what was dumped. */
function attachPodInterfaces(topo: Topology): void {
  for (const ns of topo.namespaces) {
    const pod = ns.pod;
    if (!pod) continue;
    const ifs = topo.interfaces.filter((i) => i.netns === ns.id && i.kind !== 'loopback');
    const main = ifs.find((i) => i.name === 'eth0') ?? ifs.find((i) => i.peer !== undefined) ?? ifs[0];
    if (pod.ips.length === 0 && main) {
      pod.ips = main.addrs.filter((a) => !(a.family === 'inet6' && /^fe[89ab]/i.test(a.local))).map((a) => a.local);
    }
    if (main?.peer && main.peer.netns !== ns.id) pod.nodeVeth = { netns: main.peer.netns, ifname: main.peer.ifname };
  }
}

/** A namespace reference that names nothing, or several pods: a usage error; candidates are what exists. */
export class NetnsRefError extends Error {
  constructor(
    message: string,
    readonly candidates: string[],
    /** Nothing matched, or several pods did. */
    readonly kind: 'unknown' | 'ambiguous' = 'unknown',
  ) {
    super(message);
    this.name = 'NetnsRefError';
  }
}

function podMatches(pod: PodInfo, ref: PodRef): boolean {
  return pod.name === ref.name && (ref.namespace === undefined || pod.namespace === ref.namespace);
}

/**
 * The namespaces `ref` can mean, the one place every command resolves a namespace argument: "host"/"" (netscope's
 * own), an id, a name in /run/netns, a pid, then pods: "POD", "NAMESPACE/POD", "pod:NAMESPACE/POD". A network
 * namespace name wins over a pod of the same name; "NS/POD" and "pod:…" only ever mean pods.
 */
export function matchNetns(namespaces: NetnsInfo[], ref: string): NetnsInfo[] {
  if (ref === 'host' || ref === '') return namespaces.filter((n) => n.id === '');
  const podRef = parsePodRef(ref);
  if (!podRef?.explicit) {
    const direct =
      namespaces.find((n) => n.id === ref) ??
      namespaces.find((n) => n.name === ref) ??
      (/^\d+$/.test(ref) ? namespaces.find((n) => n.pid === Number(ref)) : undefined);
    if (direct) return [direct];
  }
  if (!podRef) return [];
  return namespaces.filter((n) => n.pod !== undefined && podMatches(n.pod, podRef));
}

/** What a user could have meant: pods first, then other namespaces (at most `max`). */
export function namespaceCandidates(namespaces: NetnsInfo[], max = Infinity): string[] {
  const pods = namespaces.filter((n) => n.pod).map((n) => n.label).sort();
  const others = namespaces.filter((n) => !n.pod && n.id !== '').map((n) => n.id);
  const all = [...pods, ...others, 'host'];
  return all.length > max ? [...all.slice(0, max), `… ${all.length - max} more`] : all;
}

/** Exactly one namespace for `ref`; NetnsRefError (unknown or ambiguous, with candidates) otherwise. */
export function lookupNetns(namespaces: NetnsInfo[], ref: string): NetnsInfo {
  const hits = matchNetns(namespaces, ref);
  if (hits.length === 1) return hits[0];
  if (hits.length > 1) {
    const names = hits.map((n) => n.label).sort();
    throw new NetnsRefError(`"${ref}" matches ${hits.length} pods (${names.join(', ')}); name one as NAMESPACE/POD`, names, 'ambiguous');
  }
  const cands = namespaceCandidates(namespaces);
  const what = parsePodRef(ref)?.explicit ? 'no pod' : 'no network namespace or pod';
  throw new NetnsRefError(`${what} "${ref}"; existing: ${cands.join(', ')}`, cands);
}

/**
 * Finds a namespace by id, name, pid or pod ("host" and "" are netscope's own); undefined when nothing matches.
 * Throws NetnsRefError when a pod name is ambiguous.
 */
export function findNetns(topo: Topology, ref: string): NetnsInfo | undefined {
  const hits = matchNetns(topo.namespaces, ref);
  if (hits.length > 1) lookupNetns(topo.namespaces, ref);
  return hits[0];
}

/** The bridge called `bridge` (in `netns` — id, name or "host" — when given; else the first one found). */
export function findBridge(topo: Topology, bridge: string, netns?: string): IfInfo | undefined {
  let nsId: string | undefined;
  if (netns !== undefined) {
    nsId = findNetns(topo, netns)?.id;
    if (nsId === undefined) return undefined;
  }
  return topo.interfaces.find((i) => i.kind === 'bridge' && i.name === bridge && (nsId === undefined || i.netns === nsId));
}

/** The ports of a bridge (interfaces in its namespace whose master it is), by name. */
export function bridgePorts(topo: Topology, bridge: IfInfo): IfInfo[] {
  return topo.interfaces
    .filter((i) => i.netns === bridge.netns && i.master === bridge.name)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The namespace that has `ip` as a local address (the first in discovery order when several do). */
export function findNetnsByAddress(topo: Topology, ip: string): NetnsInfo | undefined {
  const want = canonicalIp(ip);
  const hit = topo.interfaces.find((i) => i.addrs.some((a) => canonicalIp(a.local) === want));
  return hit ? topo.namespaces.find((n) => n.id === hit.netns) : undefined;
}

/** The interface a namespace's veth leads to, if resolved. */
export function vethPeer(topo: Topology, iface: IfInfo): IfInfo | undefined {
  const p = iface.peer;
  if (!p) return undefined;
  return topo.interfaces.find((i) => i.netns === p.netns && i.ifindex === p.ifindex);
}

/**
 * The part of `topo` that `topo show --bridge NAME` is about: every bridge called `bridge` (in the namespaces
 * `netnsIds` when given), its ports and their veth peers, the namespaces holding them, and the routes and
 * neighbours of those interfaces. Undefined when no such bridge exists.
 */
export function bridgeView(topo: Topology, bridge: string, netnsIds?: readonly string[]): Topology | undefined {
  const bridges = topo.interfaces.filter((i) => i.kind === 'bridge' && i.name === bridge && (netnsIds === undefined || netnsIds.includes(i.netns)));
  if (bridges.length === 0) return undefined;
  const shown = new Set<IfInfo>();
  for (const b of bridges) {
    shown.add(b);
    for (const port of bridgePorts(topo, b)) {
      shown.add(port);
      const peer = vethPeer(topo, port);
      if (peer) shown.add(peer);
    }
  }
  const has = (netns: string, dev: string | undefined): boolean => [...shown].some((i) => i.netns === netns && i.name === dev);
  const nsIds = new Set([...shown].map((i) => i.netns));
  return {
    namespaces: topo.namespaces.filter((n) => nsIds.has(n.id)),
    interfaces: topo.interfaces.filter((i) => shown.has(i)),
    routes: topo.routes.filter((r) => has(r.netns, r.dev)),
    neighbours: topo.neighbours.filter((n) => has(n.netns, n.dev)),
  };
}
