/**
 * Typed readers for iproute2's JSON output (`ip -j`, `bridge -j`). Only the fields netscope uses are typed;
 * everything else in the kernel's answer is ignored. One `ip -batch` process per namespace reads links,
 * addresses, routes, neighbours and netns ids together: a process start costs more than the dumps.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import os from 'os';
import path from 'path';
import { run, runJson, isValidNetnsName, type NetnsRef } from './run';

export interface IpAddrJson {
  family: string;
  local: string;
  prefixlen: number;
  scope?: string;
  label?: string;
}

export interface IpLinkStats64Json {
  rx: { bytes: number; packets: number; errors?: number; dropped: number };
  tx: { bytes: number; packets: number; errors?: number; dropped: number };
}

/** One element of `ip -j -d -s addr show` (a link with its addresses, details and counters). */
export interface IpLinkJson {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  operstate: string;
  link_type: string;
  address?: string;
  master?: string;
  link?: string;
  link_index?: number;
  link_netnsid?: number;
  ifalias?: string;
  linkinfo?: {
    info_kind?: string;
    info_data?: { type?: string; [k: string]: unknown };
    info_slave_kind?: string;
    info_slave_data?: { state?: string; [k: string]: unknown };
  };
  addr_info?: IpAddrJson[];
  stats64?: IpLinkStats64Json;
}

/** One element of `ip -j route show table all`. */
export interface IpRouteJson {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  metric?: number;
  table?: string;
  flags?: string[];
}

export interface IpNeighJson {
  dst: string;
  dev?: string;
  lladdr?: string;
  state?: string[];
}

export interface IpNetnsIdJson {
  nsid: number;
  name?: string;
}

export interface IpNetnsJson {
  name: string;
  id?: number;
}

/** `bridge -j link show` element: a bridge port and its STP state. */
export interface BridgeLinkJson {
  ifindex: number;
  ifname: string;
  master?: string;
  state?: string;
  flags?: string[];
}

/** Everything one namespace's `ip -batch` dump returns. */
export interface NamespaceDump {
  links: IpLinkJson[];
  routes: IpRouteJson[];
  neighbours: IpNeighJson[];
  netnsIds: IpNetnsIdJson[];
}

/**
 * The argv that runs `ip <args>` in a namespace: `ip -n NAME` for named ones (ip enters it itself, no extra
 * process), nsenter for a process's namespace ("pid:1234"), plain `ip` for the current one.
 */
export function ipArgv(netns: NetnsRef, args: string[]): { argv: string[]; netns: NetnsRef } {
  if (netns === undefined || netns === '') return { argv: ['ip', ...args], netns: undefined };
  if (/^pid:\d+$/.test(netns)) return { argv: ['ip', ...args], netns };
  if (!isValidNetnsName(netns)) throw new Error(`invalid network namespace name "${netns}": use letters, digits, "_", "." or "-"`);
  return { argv: ['ip', '-n', netns, ...args], netns: undefined };
}

/** Runs `ip -j <args>` in netns and parses the JSON. */
export async function ipJson<T>(netns: NetnsRef, args: string[]): Promise<T> {
  const { argv, netns: via } = ipArgv(netns, ['-j', ...args]);
  return runJson<T>(argv, { netns: via });
}

/** Runs `ip <args>` in netns (a change: link add, addr add, …). */
export async function ip(netns: NetnsRef, args: string[]): Promise<void> {
  const { argv, netns: via } = ipArgv(netns, args);
  await run(argv, { netns: via });
}

const DUMP_BATCH = 'addr show\nroute show table all\nneigh show\nnetns list-id\n';
let batchFile: string | undefined;

/**
 * The dump commands as a file for `ip -batch FILE`, written once per process in a private temporary
 * directory. (Feeding them on stdin would make a child that exits before reading — a namespace that vanished,
 * no permission — raise EPIPE on a pipe this module cannot attach an error handler to.)
 */
function dumpBatchFile(): string {
  if (batchFile && existsSync(batchFile)) return batchFile;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'netscope-'));
  const file = path.join(dir, 'dump.batch');
  writeFileSync(file, DUMP_BATCH, { mode: 0o600 });
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  batchFile = file;
  return file;
}

/** Links (+addresses, details, counters), routes of every table, neighbours and netns ids of one namespace. */
export async function dumpNamespace(netns: NetnsRef): Promise<NamespaceDump> {
  const { argv, netns: via } = ipArgv(netns, ['-j', '-d', '-s', '-batch', dumpBatchFile()]);
  const { stdout } = await run(argv, { netns: via });
  // -batch prints one JSON document per command, each on its own line.
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== 4) throw new Error(`ip -batch printed ${lines.length} JSON documents, expected 4`);
  const parse = <T>(i: number): T => {
    try {
      return JSON.parse(lines[i]) as T;
    } catch {
      throw new Error(`ip -batch printed output that is not JSON (line ${i + 1})`);
    }
  };
  return {
    links: parse<IpLinkJson[]>(0),
    routes: parse<IpRouteJson[]>(1),
    neighbours: parse<IpNeighJson[]>(2),
    netnsIds: parse<IpNetnsIdJson[]>(3),
  };
}

/** `ip -j -d addr show` in one namespace. */
export function readLinks(netns: NetnsRef): Promise<IpLinkJson[]> {
  return ipJson<IpLinkJson[]>(netns, ['-d', 'addr', 'show']);
}

/** Main-table routes of both families (`table all` minus local/other tables). */
export async function readMainRoutes(netns: NetnsRef): Promise<IpRouteJson[]> {
  const all = await ipJson<IpRouteJson[]>(netns, ['route', 'show', 'table', 'all']);
  return all.filter(isMainTableRoute);
}

export function isMainTableRoute(r: IpRouteJson): boolean {
  return (r.table === undefined || r.table === 'main') && (r.type === undefined || r.type === 'unicast');
}

/** `ip -j netns list` (named namespaces, /run/netns). */
export function readNamedNetns(): Promise<IpNetnsJson[]> {
  return ipJson<IpNetnsJson[]>(undefined, ['netns', 'list']);
}

/** `bridge -j link show` in one namespace: bridge ports with their STP state. */
export function readBridgePorts(netns: NetnsRef): Promise<BridgeLinkJson[]> {
  if (netns !== undefined && netns !== '' && !/^pid:\d+$/.test(netns)) {
    if (!isValidNetnsName(netns)) throw new Error(`invalid network namespace name "${netns}"`);
    return runJson<BridgeLinkJson[]>(['bridge', '-n', netns, '-j', 'link', 'show']);
  }
  return runJson<BridgeLinkJson[]>(['bridge', '-j', 'link', 'show'], { netns: netns || undefined });
}

/** The netscope kind of a link: linkinfo kind, with tun split into tun/tap, loopback and plain ether. */
export function linkKind(l: IpLinkJson): string {
  const kind = l.linkinfo?.info_kind;
  if (kind === 'tun') return l.linkinfo?.info_data?.type === 'tap' ? 'tap' : 'tun';
  if (kind) return kind;
  if (l.link_type === 'loopback') return 'loopback';
  return l.link_type || 'ether';
}
