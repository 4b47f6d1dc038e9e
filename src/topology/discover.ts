/**
 * Discovery: every network namespace on the machine (named ones in /run/netns, unnamed ones held only by a
 * process, and netscope's own), deduplicated by namespace inode, with their interfaces, addresses, routes and
 * neighbours, and veth peers resolved across namespaces. Namespaces are dumped in parallel, one `ip -batch`
 * process each, so the whole machine can be polled every couple of seconds.
 */
import { promises as fsp } from 'fs';
import { dumpNamespace, isMainTableRoute, linkKind, type IpLinkJson, type NamespaceDump } from '../host/iproute';
import { isValidNetnsName } from '../host/run';
import { canonicalIp } from './cidr';

export interface NetnsInfo {
  /** "name" for named namespaces, "pid:1234" for unnamed ones, "" for netscope's own. */
  id: string;
  name?: string;
  pid?: number;
  /** The name, "pid 1234 (comm)", or "host" for netscope's own namespace. */
  label: string;
  inode: number;
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

/** Every network namespace, deduplicated by inode: netscope's own first, then named, then process-held. */
export async function listNamespaces(): Promise<NetnsInfo[]> {
  const [self, named, held] = await Promise.all([selfInode(), namedNamespaces(), processNamespaces()]);
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
  const comms = await Promise.all(unnamed.map(([, pid]) => commOf(pid)));
  unnamed.forEach(([ino, pid], i) => {
    seen.add(ino);
    out.push({ id: `pid:${pid}`, pid, label: `pid ${pid} (${comms[i]})`, inode: ino });
  });
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
  return topo;
}

/** Finds a namespace by id, name or label ("host" and "" are netscope's own). */
export function findNetns(topo: Topology, ref: string): NetnsInfo | undefined {
  if (ref === 'host' || ref === '') return topo.namespaces.find((n) => n.id === '');
  return (
    topo.namespaces.find((n) => n.id === ref) ??
    topo.namespaces.find((n) => n.name === ref) ??
    (/^\d+$/.test(ref) ? topo.namespaces.find((n) => n.pid === Number(ref)) : undefined)
  );
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
