/**
 * A bridge's forwarding database (`bridge -j -s fdb show br BR`): which MAC sits behind which port, how it
 * got there (learned, static, local) and how long ago it was used — plus FdbWatch, which turns successive
 * reads into new / expired / moved MACs. readFdb reads the host and resolves MACs (fdb-resolve.ts).
 */
import { bridgePorts, discover, findBridge, findNetns, type IfInfo } from '../topology/discover';
import { labelOf, listBridges, resolveFdb } from './fdb-resolve';
import { UnknownNameError, isRootUser, isValidIfName, netnsExists, netnsPermissionMessage, run } from './run';

export { isGroupMac, resolveFdb, resolveFdbEntry, listBridges } from './fdb-resolve';

/** Where a MAC lives, as far as the host lets us see: the namespace (pod), interface and its addresses. */
export interface FdbResolution {
  /** NetnsInfo.id of the namespace holding the MAC ("" = netscope's own). */
  netns: string;
  /** Human name of that namespace (its name, "pid 1234 (comm)" or "host"). */
  label: string;
  /** Interface that owns the MAC, or the one it is reached through when only a neighbour entry knows it. */
  ifname: string;
  ips: string[];
  /** owner: the interface has this MAC; neighbour: a neighbour table maps an IP to it. */
  via: 'owner' | 'neighbour';
}

export interface FdbEntry {
  mac: string;
  /** Port (or the bridge itself for its own entries). */
  port: string;
  vlan?: number;
  /** local permanent static learned self master extern_learn offload sticky router … */
  flags: string[];
  /** Seconds since the entry was last used / updated (only with -s). */
  usedSec?: number;
  updatedSec?: number;
  /** Remote VTEP for vxlan entries. */
  dst?: string;
  /** The bridge this is a forwarding entry of (absent for "self" entries of a device). */
  master?: string;
  resolved?: FdbResolution;
}

export class FdbParseError extends Error {
  constructor(problem: string) {
    super(`bridge -j fdb show: ${problem}`);
    this.name = 'FdbParseError';
  }
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** Parses `bridge -j [-s] fdb show …` (iproute2 JSON). */
export function parseFdbJson(text: string): FdbEntry[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  let doc: unknown;
  try {
    doc = JSON.parse(trimmed);
  } catch {
    throw new FdbParseError(`output is not JSON (first bytes: ${JSON.stringify(trimmed.slice(0, 60))})`);
  }
  if (!Array.isArray(doc)) throw new FdbParseError('expected a JSON array of entries');
  return doc.map((raw, i): FdbEntry => {
    if (typeof raw !== 'object' || raw === null) throw new FdbParseError(`entry ${i} is not an object`);
    const e = raw as Record<string, unknown>;
    const mac = typeof e.mac === 'string' ? e.mac.toLowerCase() : '';
    if (!MAC.test(mac)) throw new FdbParseError(`entry ${i} has no valid "mac" (${JSON.stringify(e.mac)})`);
    const port = typeof e.ifname === 'string' ? e.ifname : typeof e.dev === 'string' ? e.dev : '';
    if (port === '') throw new FdbParseError(`entry ${i} (${mac}) has no "ifname"`);
    const rawFlags = Array.isArray(e.flags) ? e.flags.filter((f): f is string => typeof f === 'string') : [];
    const state = typeof e.state === 'string' ? e.state : '';
    const master = typeof e.master === 'string' ? e.master : undefined;
    const self = rawFlags.includes('self');
    const flags: string[] = [];
    // iproute2 prints a bridge's own port addresses as state "permanent" (NUD_PERMANENT = is_local in the
    // kernel), user-added entries as "static", and dynamically learned ones with an empty state.
    if (state === 'permanent') {
      if (master !== undefined && !self) flags.push('local');
      flags.push('permanent');
    } else if (state === 'static') {
      flags.push('static');
    } else if (state === '' || state === 'reachable' || state === 'stale') {
      if (!self) flags.push('learned');
    } else {
      flags.push(state);
    }
    for (const f of rawFlags) if (!flags.includes(f)) flags.push(f);
    if (master !== undefined) flags.push('master');
    const entry: FdbEntry = { mac, port, flags };
    if (typeof e.vlan === 'number') entry.vlan = e.vlan;
    if (typeof e.used === 'number') entry.usedSec = e.used;
    if (typeof e.updated === 'number') entry.updatedSec = e.updated;
    if (typeof e.dst === 'string') entry.dst = e.dst;
    if (master !== undefined) entry.master = master;
    return entry;
  });
}

/** Identity of an entry across reads: a forwarding entry is one MAC per VLAN (its port may change). */
export function fdbKey(e: FdbEntry): string {
  const base = `${e.mac}|${e.vlan ?? ''}`;
  return e.master !== undefined ? base : `${base}|self|${e.port}`;
}

export interface FdbMove {
  entry: FdbEntry;
  fromPort: string;
}

export interface FdbDiff {
  /** Entries not in the previous read (empty on the first read: that one is the baseline). */
  added: FdbEntry[];
  /** Entries of the previous read that are gone (aged out or deleted). */
  expired: FdbEntry[];
  /** MACs now behind a different port. */
  moved: FdbMove[];
  /** The current entries. */
  entries: FdbEntry[];
}

/** Compares successive FDB reads of one bridge. */
export class FdbWatch {
  private prev: Map<string, FdbEntry> | undefined;

  update(entries: FdbEntry[]): FdbDiff {
    const cur = new Map<string, FdbEntry>();
    for (const e of entries) cur.set(fdbKey(e), e);
    const diff: FdbDiff = { added: [], expired: [], moved: [], entries };
    const prev = this.prev;
    this.prev = cur;
    if (prev === undefined) return diff;
    for (const [k, e] of cur) {
      const before = prev.get(k);
      if (before === undefined) diff.added.push(e);
      else if (before.port !== e.port) diff.moved.push({ entry: e, fromPort: before.port });
    }
    for (const [k, e] of prev) if (!cur.has(k)) diff.expired.push(e);
    return diff;
  }
}

export interface FdbRead {
  bridge: IfInfo;
  /** Label of the bridge's namespace. */
  netnsLabel: string;
  ports: string[];
  entries: FdbEntry[];
}

export class UnknownBridgeError extends UnknownNameError {
  constructor(message: string) {
    super(message);
    this.name = 'UnknownBridgeError';
  }
}

/**
 * Reads bridge `bridge` (in namespace `netns`: a name, "pid:N", "host"; any namespace when absent) with
 * resolution. An unknown bridge is an UnknownBridgeError that lists the bridges that do exist.
 */
export async function readFdbDetailed(bridge: string, netns?: string): Promise<FdbRead> {
  if (!isValidIfName(bridge)) throw new UnknownBridgeError(`invalid bridge name "${bridge}": at most 15 of A-Z a-z 0-9 _ . -`);
  const topo = await discover();
  if (netns !== undefined && findNetns(topo, netns) === undefined) {
    // Without root, discovery cannot enter other namespaces: one that exists is a permission problem.
    if (!isRootUser() && netnsExists(netns)) throw new Error(netnsPermissionMessage(netns, 'reading its bridges'));
    const known = topo.namespaces.map((n) => (n.id === '' ? 'host' : n.id)).join(', ');
    throw new UnknownBridgeError(`no network namespace "${netns}" (namespaces: ${known})`);
  }
  const br = findBridge(topo, bridge, netns);
  if (br && netns === undefined) {
    const same = topo.interfaces.filter((i) => i.kind === 'bridge' && i.name === bridge);
    if (same.length > 1) {
      const refs = same.map((i) => `${i.name}@${i.netns === '' ? 'host' : i.netns}`).join(', ');
      throw new UnknownBridgeError(`bridge "${bridge}" exists in ${same.length} namespaces (${refs}): say which with BRIDGE@NETNS`);
    }
  }
  if (!br) {
    const where = netns !== undefined ? ` in namespace "${netns}"` : '';
    const hidden = isRootUser() ? '' : ' (not root: bridges in other namespaces cannot be seen; run as root)';
    throw new UnknownBridgeError(`no bridge "${bridge}"${where}; bridges: ${listBridges(topo)}${hidden}`);
  }
  const { stdout } = await run(['bridge', '-j', '-s', 'fdb', 'show', 'br', br.name], { netns: br.netns });
  const entries = resolveFdb(topo, br, parseFdbJson(stdout));
  return { bridge: br, netnsLabel: labelOf(topo, br.netns), ports: bridgePorts(topo, br).map((p) => p.name), entries };
}

/** The FDB of `bridge` (see readFdbDetailed), entries resolved as far as the host allows. */
export async function readFdb(bridge: string, netns?: string): Promise<FdbEntry[]> {
  return (await readFdbDetailed(bridge, netns)).entries;
}
